//! `quote` on a wedding-sized cart: 2,000 photos of one product against a
//! sheet with 5 packages and an all-photos price (the target: under 5 ms),
//! beside the same cart with no packages (singles only: the floor), and a
//! mixed cart of 1,500 originals and 500 web files.
//!
//!     cargo bench -p proofsheet-core --bench quote

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use proofsheet_core::pricing::{
    AllPhotos, CartLine, Delivery, Package, PackageId, PriceSheet, PriceSheetId, Product, ProductId, ProductKind,
    QuoteInput, TaxRule, quote,
};
use proofsheet_core::{AlbumId, Money, PhotoId, UserId};

fn sheet(packages: bool) -> PriceSheet {
    let eur = "EUR".parse().unwrap();
    let money = |amount| Money { amount, currency: eur };
    let products = vec![
        Product {
            id: ProductId::new(),
            name: "Original".into(),
            kind: ProductKind::Digital { delivery: Delivery::Original },
            price: money(500),
        },
        Product {
            id: ProductId::new(),
            name: "Web".into(),
            kind: ProductKind::Digital { delivery: Delivery::Web },
            price: money(200),
        },
    ];
    let packs = if packages {
        [(5, 2_000), (10, 3_500), (25, 8_000), (50, 15_000), (100, 27_000)]
            .iter()
            .map(|&(photos, price)| Package {
                id: PackageId::new(),
                name: format!("{photos} photos"),
                product: products[0].id,
                photos,
                price: money(price),
            })
            .collect()
    } else {
        Vec::new()
    };
    let all_photos = packages.then(|| AllPhotos { product: products[0].id, price: money(400_000) });
    PriceSheet {
        id: PriceSheetId::new(),
        owner_id: UserId::new(),
        name: "Bench".into(),
        currency: eur,
        products,
        packages: packs,
        all_photos,
    }
}

fn bench(c: &mut Criterion) {
    let album = AlbumId::new();
    let tax = TaxRule::Inclusive { rate_bps: 2500, label: "VAT".into() };
    let mut g = c.benchmark_group("quote");
    for (name, packages, web) in [
        ("2000 photos, 5 packages + all-photos", true, 0),
        ("2000 photos, singles only", false, 0),
        ("1500 originals + 500 web, 5 packages + all-photos", true, 500),
    ] {
        let s = sheet(packages);
        let lines: Vec<CartLine> = (0..2000)
            .map(|i| CartLine { photo_id: PhotoId::new(), product_id: s.products[usize::from(i < web)].id })
            .collect();
        let input =
            QuoteInput { sheet: &s, lines: &lines, album, now: Utc::now(), offers: &[], coupon: None, tax: &tax };
        g.bench_function(name, |b| b.iter(|| quote(std::hint::black_box(&input)).unwrap()));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
