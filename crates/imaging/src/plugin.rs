//! WebAssembly watermark plugins: a sandboxed [`Watermark`] run by wasmtime.
//!
//! # The interface (ABI version 1, a core module)
//!
//! A plugin is a core WebAssembly module that imports **nothing** (no WASI,
//! no host functions: it gets only the pixels and parameters it is given)
//! and exports:
//!
//! | export | signature | meaning |
//! |---|---|---|
//! | `memory` | memory | its linear memory |
//! | `proofsheet_abi_version` | `() -> i32` | must return `1` |
//! | `proofsheet_alloc` | `(len: i32) -> i32` | a pointer to `len` writable bytes, or 0 |
//! | `proofsheet_watermark` | `(pixels: i32, width: i32, height: i32, params: i32, params_len: i32) -> i32` | draws on `width * height * 3` bytes of packed RGB8 at `pixels`, in place; `params` is the album's parameter string (UTF-8, usually JSON); returns 0, or an error code of its own |
//!
//! The host calls `proofsheet_alloc` once for the pixels and once for the
//! parameters, copies both in, calls `proofsheet_watermark`, and copies the
//! pixels back. Every call runs in a fresh instance (no state survives from
//! one photo to the next); the module is compiled and linked once (an
//! `InstancePre` per plugin), so instantiation costs microseconds.
//!
//! Plugins run on a [`PluginHost`]: its engine, its pool of instance
//! slots, and the ticker behind every deadline, all stopped with it.
//!
//! # Limits
//!
//! - Memory: the instance's linear memory may not grow past
//!   [`PluginLimits::memory_bytes`] (default 64 MiB); a plugin that tries
//!   fails with a clear error.
//! - Time: [`PluginLimits::deadline`] (default 500 ms) through epoch
//!   interruption: the host's ticker thread advances its engine's epoch
//!   every 10 ms, so a looping plugin is stopped within the deadline plus a
//!   tick.
//! - Output: the pointers the plugin returns are checked against its
//!   memory, a non-zero return is an error, and a trap is an error.
//!
//! Every failure is [`Error::Image`] with the plugin's name and the reason,
//! so the photo's job records it (or the configured fallback watermark is
//! used: see [`PluginWatermark::with_fallback`]).

use std::{
    path::Path,
    sync::{Arc, Condvar, Mutex, mpsc},
    thread::JoinHandle,
    time::Duration,
};

use proofsheet_core::{Error, Result, RgbImageMut, Watermark};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig, Store,
    StoreLimits, StoreLimitsBuilder,
};

/// The ABI version this host speaks.
pub const ABI_VERSION: i32 = 1;

/// Resource limits of one plugin call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PluginLimits {
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
    /// Longest a call may run.
    pub deadline: Duration,
}

impl Default for PluginLimits {
    fn default() -> Self {
        PluginLimits { memory_bytes: 64 << 20, deadline: Duration::from_millis(500) }
    }
}

const TICK: Duration = Duration::from_millis(10);

/// Plugin calls that can be in flight at once on one host (each image of
/// each job in flight is one).
const POOL_SLOTS: u32 = 128;
/// The largest memory cap a plugin may be given (`plugin_memory_mib` up to
/// 1024).
pub const MAX_PLUGIN_MEMORY: usize = 1 << 30;
/// Memory kept resident per slot between calls: a 2048 px preview (12 MiB
/// of RGB) and some room.
const KEEP_RESIDENT: usize = 16 << 20;

/// A counting semaphore over the host's pool slots: a call holds a permit
/// while it runs, and callers beyond [`POOL_SLOTS`] wait for one instead of
/// failing. Plugin calls run on blocking threads, so this one blocks.
struct Slots {
    free: Mutex<u32>,
    freed: Condvar,
}

/// A held slot, given back when dropped.
struct Permit<'a>(&'a Slots);

impl Slots {
    fn new(n: u32) -> Self {
        Slots { free: Mutex::new(n), freed: Condvar::new() }
    }

    fn acquire(&self) -> Permit<'_> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
        Permit(self)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

/// Runs WebAssembly watermark plugins: one wasmtime engine with its pool
/// of instance slots, the ticker that drives every call's deadline, and
/// the permits to the slots.
///
/// Plugins are loaded through a host ([`PluginHost::load`]) and keep it
/// alive; when the host and every plugin loaded from it are dropped, the
/// ticker thread stops and the pool's memory is unmapped. Cloning is cheap
/// (one shared host). Nothing here is global: two hosts in one process
/// share nothing.
#[derive(Clone)]
pub struct PluginHost(Arc<Host>);

struct Host {
    engine: Engine,
    /// The largest memory a plugin of this host may be given.
    max_memory: usize,
    slots: Slots,
    /// Dropping the sender stops the ticker, which is then joined.
    stop: Option<mpsc::Sender<()>>,
    ticker: Option<JoinHandle<()>>,
}

impl Drop for Host {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost").finish_non_exhaustive()
    }
}

impl PluginHost {
    /// A host whose plugins may each be given up to `max_memory_bytes` of
    /// linear memory (at most [`MAX_PLUGIN_MEMORY`]); it reserves address
    /// space (not memory) for that many bytes per slot.
    pub fn new(max_memory_bytes: usize) -> Result<Self> {
        if max_memory_bytes > MAX_PLUGIN_MEMORY {
            return Err(Error::Image {
                message: format!("a plugin memory cap over {} MiB is not supported", MAX_PLUGIN_MEMORY >> 20),
            });
        }
        let mut config = Config::new();
        config.epoch_interruption(true);
        // Pooled instances: a plugin call reuses a slot whose memory stays
        // mapped and resident (zeroed, not returned to the kernel), so the
        // pixels are not copied into freshly faulted pages every time.
        // Each call still gets a new, empty instance.
        let mut pool = PoolingAllocationConfig::new();
        pool.total_core_instances(POOL_SLOTS)
            .total_memories(POOL_SLOTS)
            .total_tables(POOL_SLOTS)
            .max_memory_size(max_memory_bytes.max(1 << 16))
            .linear_memory_keep_resident(KEEP_RESIDENT.min(max_memory_bytes));
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&config)
            .map_err(|e| Error::Image { message: format!("starting the WebAssembly engine: {e:#}") })?;
        let (stop, stopped) = mpsc::channel::<()>();
        let ticking = engine.clone();
        let ticker = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                // Ticks until the host drops its sender.
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(TICK) {
                    ticking.increment_epoch();
                }
            })
            .map_err(|e| Error::Image { message: format!("starting the plugin ticker: {e}") })?;
        Ok(PluginHost(Arc::new(Host {
            engine,
            max_memory: max_memory_bytes,
            slots: Slots::new(POOL_SLOTS),
            stop: Some(stop),
            ticker: Some(ticker),
        })))
    }

    /// A host for plugins of at most [`MAX_PLUGIN_MEMORY`].
    pub fn with_max_memory() -> Result<Self> {
        Self::new(MAX_PLUGIN_MEMORY)
    }

    /// Compiles `wasm` (a binary module), checks its interface and links
    /// it once, so each call only instantiates.
    pub fn load(&self, name: &str, wasm: &[u8], params: &str, limits: PluginLimits) -> Result<PluginWatermark> {
        let host = &self.0;
        let max = host.max_memory;
        if limits.memory_bytes > max {
            return Err(fail(name, format!("a memory cap over {} MiB is not supported", max >> 20)));
        }
        let module = Module::new(&host.engine, wasm).map_err(|e| fail(name, format!("not a valid module: {e:#}")))?;
        if let Some(import) = module.imports().next() {
            return Err(fail(
                name,
                format!(
                    "imports {}::{}, which is not granted (plugins get no WASI and no host functions)",
                    import.module(),
                    import.name()
                ),
            ));
        }
        let exports: Vec<String> = module.exports().map(|e| e.name().to_owned()).collect();
        for needed in ["memory", "proofsheet_abi_version", "proofsheet_alloc", "proofsheet_watermark"] {
            if !exports.iter().any(|e| e == needed) {
                return Err(fail(name, format!("does not export `{needed}` (see the plugin interface)")));
            }
        }
        // Nothing is imported, so the linker is empty: linking is checking
        // that, once.
        let pre = Linker::new(&host.engine)
            .instantiate_pre(&module)
            .map_err(|e| fail(name, format!("could not link: {e:#}")))?;
        let plugin = PluginWatermark {
            name: name.to_owned(),
            host: self.clone(),
            pre,
            params: params.as_bytes().into(),
            limits,
            fallback: None,
        };
        let _permit = host.slots.acquire();
        let (mut store, instance) = plugin.instantiate()?;
        let version = instance
            .get_typed_func::<(), i32>(&mut store, "proofsheet_abi_version")
            .and_then(|f| f.call(&mut store, ()))
            .map_err(|e| fail(name, format!("proofsheet_abi_version: {e:#}")))?;
        if version != ABI_VERSION {
            return Err(fail(name, format!("speaks ABI version {version}; this host speaks {ABI_VERSION}")));
        }
        Ok(plugin)
    }

    /// Loads a plugin file; its name is the file's stem.
    pub fn load_file(&self, path: &Path, params: &str, limits: PluginLimits) -> Result<PluginWatermark> {
        let wasm = std::fs::read(path)
            .map_err(|e| Error::invalid("invalid_plugin", format!("reading {}: {e}", path.display())))?;
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("plugin");
        self.load(name, &wasm, params, limits)
    }
}

fn fail(name: &str, message: impl std::fmt::Display) -> Error {
    Error::Image { message: format!("watermark plugin {name}: {message}") }
}

/// A loaded, checked plugin with its parameters.
#[derive(Clone)]
pub struct PluginWatermark {
    name: String,
    host: PluginHost,
    pre: InstancePre<StoreLimits>,
    params: Arc<[u8]>,
    limits: PluginLimits,
    fallback: Option<Arc<dyn Watermark>>,
}

impl std::fmt::Debug for PluginWatermark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginWatermark").field("name", &self.name).field("limits", &self.limits).finish()
    }
}

impl PluginWatermark {
    /// Uses `fallback` (say, the built-in watermark) when the plugin fails,
    /// instead of failing the photo. The failure is still logged.
    pub fn with_fallback(mut self, fallback: Arc<dyn Watermark>) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// The same compiled plugin with other parameters (cheap: the module
    /// and its linking are shared).
    pub fn with_params(&self, params: &str) -> Self {
        PluginWatermark { params: params.as_bytes().into(), ..self.clone() }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn instantiate(&self) -> Result<(Store<StoreLimits>, wasmtime::Instance)> {
        let limits = StoreLimitsBuilder::new().memory_size(self.limits.memory_bytes).instances(1).build();
        let mut store = Store::new(&self.host.0.engine, limits);
        store.limiter(|l| l);
        let ticks = (self.limits.deadline.as_millis() / TICK.as_millis()).max(1) as u64;
        store.set_epoch_deadline(ticks);
        let instance =
            self.pre.instantiate(&mut store).map_err(|e| fail(&self.name, format!("could not start: {e:#}")))?;
        Ok((store, instance))
    }

    fn run(&self, img: &mut RgbImageMut<'_>) -> Result<()> {
        let name = &self.name;
        let _permit = self.host.0.slots.acquire();
        let (mut store, instance) = self.instantiate()?;
        let call_err = |what: &str, e: wasmtime::Error| {
            let reason = match e.downcast_ref::<wasmtime::Trap>() {
                Some(wasmtime::Trap::Interrupt) => format!("ran past its {:?} deadline", self.limits.deadline),
                Some(trap) => format!("trapped in {what}: {trap}"),
                None => format!("{what} failed: {e:#}"),
            };
            fail(name, reason)
        };
        let memory = instance.get_memory(&mut store, "memory").ok_or_else(|| fail(name, "exports no memory"))?;
        let alloc = instance
            .get_typed_func::<i32, i32>(&mut store, "proofsheet_alloc")
            .map_err(|e| fail(name, format!("proofsheet_alloc: {e:#}")))?;
        let watermark = instance
            .get_typed_func::<(i32, i32, i32, i32, i32), i32>(&mut store, "proofsheet_watermark")
            .map_err(|e| fail(name, format!("proofsheet_watermark: {e:#}")))?;
        let len = img.pixels.len();
        let too_big = || fail(name, "the image is too large for a plugin");
        let len32 = i32::try_from(len).map_err(|_| too_big())?;
        let params_len = i32::try_from(self.params.len()).map_err(|_| too_big())?;
        let pixels_ptr = alloc.call(&mut store, len32).map_err(|e| call_err("proofsheet_alloc", e))?;
        let params_ptr = alloc.call(&mut store, params_len.max(1)).map_err(|e| call_err("proofsheet_alloc", e))?;
        let in_bounds = |store: &Store<StoreLimits>, ptr: i32, n: usize| {
            ptr > 0 && (ptr as usize).checked_add(n).is_some_and(|end| end <= memory.data_size(store))
        };
        if !in_bounds(&store, pixels_ptr, len) || !in_bounds(&store, params_ptr, self.params.len()) {
            return Err(fail(name, "proofsheet_alloc returned memory it does not have (out of memory?)"));
        }
        memory.write(&mut store, pixels_ptr as usize, img.pixels).map_err(|e| fail(name, e))?;
        memory.write(&mut store, params_ptr as usize, &self.params).map_err(|e| fail(name, e))?;
        let (w, h) = (img.width as i32, img.height as i32);
        let code = watermark
            .call(&mut store, (pixels_ptr, w, h, params_ptr, params_len))
            .map_err(|e| call_err("proofsheet_watermark", e))?;
        if code != 0 {
            return Err(fail(name, format!("returned error code {code}")));
        }
        if !in_bounds(&store, pixels_ptr, len) {
            return Err(fail(name, "the pixels are no longer in its memory"));
        }
        memory.read(&store, pixels_ptr as usize, img.pixels).map_err(|e| fail(name, e))?;
        Ok(())
    }
}

impl Watermark for PluginWatermark {
    fn apply(&self, img: &mut RgbImageMut<'_>) -> Result<()> {
        match (self.run(img), &self.fallback) {
            (Ok(()), _) => Ok(()),
            (Err(e), Some(fallback)) => {
                tracing::warn!(error = %e, "watermark plugin failed; the built-in watermark is used instead");
                fallback.apply(img)
            }
            (Err(e), None) => Err(e),
        }
    }
}
