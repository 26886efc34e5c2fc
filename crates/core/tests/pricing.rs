//! `proofsheet_core::pricing::quote`: the worked examples of
//! `docs/selling.md` (read from the page), its properties (proptest), and
//! its refusals.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proofsheet_core::pricing::{
    AllPhotos, CartLine, Coupon, Delivery, Discount, Package, PackageId, PriceSheet, PriceSheetId, Product, ProductId,
    ProductKind, QuoteInput, TaxRule, quote,
};
use proofsheet_core::{AlbumId, Currency, Money, PhotoId, UserId};
use proptest::prelude::*;

fn eur() -> Currency {
    "EUR".parse().unwrap()
}

fn cents(s: &str) -> i64 {
    let (whole, frac) = s.trim().split_once('.').unwrap_or((s.trim(), "0"));
    whole.parse::<i64>().unwrap() * 100 + format!("{frac:0<2}")[..2].parse::<i64>().unwrap()
}

fn money(amount: i64) -> Money {
    Money { amount, currency: eur() }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 3, 1, 12, 0, 0).unwrap()
}

fn product(delivery: Delivery, price: i64) -> Product {
    Product {
        id: ProductId::new(),
        name: delivery.as_str().into(),
        kind: ProductKind::Digital { delivery },
        price: money(price),
    }
}

fn coupon(discount: Discount, auto_apply: bool) -> Coupon {
    let code = if auto_apply { "OFFER" } else { "SPRING" };
    Coupon { auto_apply, ..Coupon::new(UserId::new(), code, discount) }
}

/// `original 5.00; web 2.00; original 10 for 40.00; original all 100.00`.
fn sheet_of(cell: &str) -> PriceSheet {
    let mut sheet = PriceSheet {
        id: PriceSheetId::new(),
        owner_id: UserId::new(),
        name: "Examples".into(),
        currency: eur(),
        products: Vec::new(),
        packages: Vec::new(),
        all_photos: None,
    };
    let delivery = |w: &str| match w {
        "original" => Delivery::Original,
        "web" => Delivery::Web,
        other => panic!("no product {other:?}"),
    };
    for entry in cell.split(';').map(str::trim) {
        let words: Vec<&str> = entry.split_whitespace().collect();
        let of = |sheet: &PriceSheet, w: &str| {
            let d = delivery(w);
            sheet.products.iter().find(|p| p.kind == ProductKind::Digital { delivery: d }).expect("product first").id
        };
        match words.as_slice() {
            [p, price] => sheet.products.push(product(delivery(p), cents(price))),
            [p, n, "for", price] => sheet.packages.push(Package {
                id: PackageId::new(),
                name: entry.into(),
                product: of(&sheet, p),
                photos: n.parse().unwrap(),
                price: money(cents(price)),
            }),
            [p, "all", price] => {
                sheet.all_photos = Some(AllPhotos { product: of(&sheet, p), price: money(cents(price)) })
            }
            _ => panic!("cannot read sheet entry {entry:?}"),
        }
    }
    sheet.validate().unwrap();
    sheet
}

/// `7 original + 2 web`.
fn cart_of(cell: &str, sheet: &PriceSheet) -> Vec<CartLine> {
    let mut lines = Vec::new();
    for part in cell.split('+').map(str::trim) {
        let (n, what) = part.split_once(' ').unwrap();
        let d = if what == "web" { Delivery::Web } else { Delivery::Original };
        let product = sheet.products.iter().find(|p| p.kind == ProductKind::Digital { delivery: d }).unwrap().id;
        for _ in 0..n.parse::<usize>().unwrap() {
            lines.push(CartLine { photo_id: PhotoId::new(), product_id: product });
        }
    }
    lines
}

/// `code 10% min 50.00 + offer 15%`: the typed coupon and the offers.
fn discounts_of(cell: &str) -> (Option<Coupon>, Vec<Coupon>) {
    let (mut typed, mut offers) = (None, Vec::new());
    if cell.trim() == "—" {
        return (typed, offers);
    }
    for part in cell.split('+').map(str::trim) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let discount = match words[1].strip_suffix('%') {
            Some(p) => Discount::Percent(p.parse().unwrap()),
            None => Discount::Amount(money(cents(words[1]))),
        };
        let mut c = coupon(discount, words[0] == "offer");
        if let ["min", amount] = &words[2..] {
            c.min_order = Some(money(cents(amount)));
        }
        if c.auto_apply { offers.push(c) } else { typed = Some(c) }
    }
    (typed, offers)
}

/// `inclusive 25%`, `exclusive 8.25%`, `—`.
fn tax_of(cell: &str) -> TaxRule {
    let words: Vec<&str> = cell.split_whitespace().collect();
    let bps = |r: &str| cents(r.strip_suffix('%').unwrap()) as u32;
    match words.as_slice() {
        ["inclusive", r] => TaxRule::Inclusive { rate_bps: bps(r), label: "VAT".into() },
        ["exclusive", r] => TaxRule::Exclusive { rate_bps: bps(r), label: "Sales tax".into() },
        _ => TaxRule::None,
    }
}

#[test]
fn worked_examples_in_docs_selling_md() {
    let page = include_str!("../../../docs/selling.md");
    let table = page.split("## Worked examples").nth(1).expect("the section");
    let rows: Vec<Vec<&str>> = table
        .lines()
        .filter(|l| l.starts_with("| ") && l.chars().nth(2).is_some_and(|c| c.is_ascii_digit()))
        .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    assert!(rows.len() >= 14, "the table's rows: {}", rows.len());
    let album = AlbumId::new();
    for row in &rows {
        let [n, sheet, cart, discount, tax, subtotal, off, taxed, total] = row[..] else {
            panic!("a row of 9 cells: {row:?}")
        };
        let sheet = sheet_of(sheet);
        let lines = cart_of(cart, &sheet);
        let (typed, offers) = discounts_of(discount);
        let rule = tax_of(tax);
        let input = QuoteInput {
            sheet: &sheet,
            lines: &lines,
            album,
            now: now(),
            offers: &offers,
            coupon: typed.as_ref(),
            tax: &rule,
        };
        match subtotal.strip_prefix("error ") {
            Some(code) => {
                let e = quote(&input).expect_err(&format!("example {n} is refused"));
                assert_eq!(e.code(), code, "example {n}");
            }
            None => {
                let q = quote(&input).unwrap_or_else(|e| panic!("example {n}: {e}"));
                let got = [q.subtotal.amount, q.discount.amount, q.tax.amount, q.total.amount];
                let want = [cents(subtotal), cents(off), cents(taxed), cents(total)];
                assert_eq!(got, want, "example {n}: subtotal, discount, tax, total");
                // The packages' photos are lines of the cart, each once.
                let covered: Vec<PhotoId> = q.packages.iter().flat_map(|k| k.photo_ids.clone()).collect();
                let unique: std::collections::HashSet<_> = covered.iter().collect();
                assert_eq!(unique.len(), covered.len(), "example {n}: a photo in two packages");
                assert!(covered.iter().all(|p| lines.iter().any(|l| l.photo_id == *p)), "example {n}");
            }
        }
    }
}

#[test]
fn an_album_without_a_sheet_sells_as_before() {
    let album = AlbumId::new();
    let sheet = PriceSheet::default_for(album, UserId::new(), money(450));
    let lines: Vec<CartLine> =
        (0..4).map(|_| CartLine { photo_id: PhotoId::new(), product_id: sheet.products[0].id }).collect();
    let q = quote(&QuoteInput {
        sheet: &sheet,
        lines: &lines,
        album,
        now: now(),
        offers: &[],
        coupon: None,
        tax: &TaxRule::None,
    })
    .unwrap();
    assert_eq!((q.subtotal.amount, q.total.amount), (1800, 1800), "price_per_photo times the photos");
    assert!(q.packages.is_empty() && q.coupon.is_none());
    assert_eq!(sheet.products[0].kind, ProductKind::Digital { delivery: Delivery::Original });
}

#[test]
fn refusals_say_why() {
    let album = AlbumId::new();
    let sheet = sheet_of("original 5.00");
    let id = sheet.products[0].id;
    let one = PhotoId::new();
    let base = |lines: &[CartLine], c: Option<&Coupon>| {
        quote(&QuoteInput { sheet: &sheet, lines, album, now: now(), offers: &[], coupon: c, tax: &TaxRule::None })
    };
    let line = CartLine { photo_id: one, product_id: id };
    assert_eq!(base(&[], None).unwrap_err().code(), "invalid_photo_ids");
    assert_eq!(base(&[line, line], None).unwrap_err().code(), "duplicate_photo");
    let stranger = CartLine { photo_id: one, product_id: ProductId::new() };
    assert_eq!(base(&[stranger], None).unwrap_err().code(), "unknown_product");
    let mut c = coupon(Discount::Percent(10), false);
    c.album_ids = vec![AlbumId::new()];
    assert_eq!(base(&[line], Some(&c)).unwrap_err().code(), "coupon_not_for_album");
    c.album_ids = vec![album];
    c.starts_at = Some(now() + Duration::days(1));
    assert_eq!(base(&[line], Some(&c)).unwrap_err().code(), "coupon_not_started");
    c.starts_at = Some(now() - Duration::days(2));
    c.expires_at = Some(now());
    assert_eq!(base(&[line], Some(&c)).unwrap_err().code(), "coupon_expired", "the end is exclusive");
    c.expires_at = Some(now() + Duration::seconds(1));
    assert_eq!(base(&[line], Some(&c)).unwrap().discount.amount, 50, "inside its dates");
    let usd = Coupon { discount: Discount::Amount(Money { amount: 100, currency: "USD".parse().unwrap() }), ..c };
    assert_eq!(base(&[line], Some(&usd)).unwrap_err().code(), "coupon_not_for_album", "another currency");
}

#[test]
fn sheets_check_their_own_rules() {
    let mut sheet = sheet_of("original 5.00; original 10 for 40.00");
    assert!(sheet.validate().is_ok());
    sheet.packages[0].product = ProductId::new();
    assert_eq!(sheet.validate().unwrap_err().code(), "invalid_price_sheet");
    let mut sheet = sheet_of("original 5.00");
    sheet.products[0].price = Money { amount: 500, currency: "USD".parse().unwrap() };
    assert_eq!(sheet.validate().unwrap_err().code(), "invalid_price_sheet", "one currency a sheet");
    let mut sheet = sheet_of("original 5.00");
    sheet.products.clear();
    assert_eq!(sheet.validate().unwrap_err().code(), "invalid_price_sheet");
}

/// The cheapest cost, found another way: the least cost of buying
/// *exactly* `m` photo slots (singles and whole packages, any number of
/// each; an unbounded knapsack over exact sums), minimised over every
/// `m >= n` (slots left over are a package partly used), then the
/// all-photos price.
fn brute(n: usize, unit: i64, packages: &[(usize, i64)], all: Option<i64>) -> i64 {
    let top = n + packages.iter().map(|(k, _)| *k).max().unwrap_or(0);
    let mut exact = vec![i64::MAX; top + 1];
    exact[0] = 0;
    for m in 1..=top {
        let mut best = exact[m - 1].saturating_add(unit);
        for &(k, c) in packages {
            if k <= m && exact[m - k] != i64::MAX {
                best = best.min(exact[m - k] + c);
            }
        }
        exact[m] = best;
    }
    let cover = exact[n..].iter().copied().min().unwrap();
    all.map_or(cover, |a| a.min(cover))
}

fn arb_sheet() -> impl Strategy<Value = PriceSheet> {
    (
        1i64..2_000,
        0i64..800,
        proptest::collection::vec((1u32..12, 0i64..20_000, any::<bool>()), 0..5),
        proptest::option::of(0i64..60_000),
        any::<bool>(),
    )
        .prop_map(|(original, web, packs, all, all_web)| {
            let products = vec![product(Delivery::Original, original), product(Delivery::Web, web)];
            let packages = packs
                .into_iter()
                .map(|(photos, price, web)| Package {
                    id: PackageId::new(),
                    name: "pack".into(),
                    product: products[usize::from(web)].id,
                    photos,
                    price: money(price),
                })
                .collect();
            let all_photos =
                all.map(|price| AllPhotos { product: products[usize::from(all_web)].id, price: money(price) });
            PriceSheet {
                id: PriceSheetId::new(),
                owner_id: UserId::new(),
                name: "arb".into(),
                currency: eur(),
                products,
                packages,
                all_photos,
            }
        })
}

fn arb_case() -> impl Strategy<Value = (PriceSheet, Vec<bool>, Option<Discount>, TaxRule, Vec<usize>)> {
    (
        arb_sheet(),
        proptest::collection::vec(any::<bool>(), 1..40),
        proptest::option::of(prop_oneof![
            (1u8..=100).prop_map(Discount::Percent),
            (0i64..50_000).prop_map(|a| Discount::Amount(money(a))),
        ]),
        prop_oneof![
            Just(TaxRule::None),
            (0u32..=10_000).prop_map(|r| TaxRule::Inclusive { rate_bps: r, label: "VAT".into() }),
            (0u32..=10_000).prop_map(|r| TaxRule::Exclusive { rate_bps: r, label: "Tax".into() }),
        ],
        proptest::collection::vec(any::<usize>(), 40),
    )
        .prop_map(|(sheet, web, discount, tax, shuffle)| (sheet, web, discount, tax, shuffle))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// Never above the singles, never above the all-photos price (for a
    /// cart of its product alone), never negative, the same whatever the
    /// cart's order, and exactly the brute-force optimum.
    #[test]
    fn quotes_are_cheapest_bounded_and_order_free((sheet, web, discount, tax, shuffle) in arb_case()) {
        let album = AlbumId::new();
        let lines: Vec<CartLine> = web
            .iter()
            .map(|w| CartLine { photo_id: PhotoId::new(), product_id: sheet.products[usize::from(*w)].id })
            .collect();
        let typed = discount.map(|d| coupon(d, false));
        let input = QuoteInput {
            sheet: &sheet, lines: &lines, album, now: now(), offers: &[], coupon: typed.as_ref(), tax: &tax,
        };
        let q = quote(&input).unwrap();
        let singles: i64 = lines.iter().map(|l| sheet.product(l.product_id).unwrap().price.amount).sum();
        prop_assert!(q.subtotal.amount <= singles, "{} > singles {}", q.subtotal.amount, singles);
        prop_assert!(q.subtotal.amount >= 0 && q.discount.amount >= 0 && q.tax.amount >= 0 && q.total.amount >= 0);
        prop_assert!(q.discount.amount <= q.subtotal.amount);
        // Exactly the optimum, product by product.
        let mut optimum = 0;
        for p in &sheet.products {
            let n = lines.iter().filter(|l| l.product_id == p.id).count();
            if n == 0 { continue; }
            let packs: Vec<(usize, i64)> = sheet.packages.iter()
                .filter(|k| k.product == p.id).map(|k| (k.photos as usize, k.price.amount)).collect();
            let all = sheet.all_photos.as_ref().filter(|a| a.product == p.id).map(|a| a.price.amount);
            optimum += brute(n, p.price.amount, &packs, all);
            if let Some(a) = all && lines.iter().all(|l| l.product_id == p.id) {
                prop_assert!(q.subtotal.amount <= a, "above the all-photos price");
            }
        }
        prop_assert_eq!(q.subtotal.amount, optimum);
        // The packages' prices and the lines outside them add up.
        let in_packages: std::collections::HashSet<PhotoId> =
            q.packages.iter().flat_map(|k| k.photo_ids.iter().copied()).collect();
        let rest: i64 = q.lines.iter().filter(|l| !in_packages.contains(&l.photo_id)).map(|l| l.unit_price.amount).sum();
        prop_assert_eq!(rest + q.packages.iter().map(|k| k.price.amount).sum::<i64>(), q.subtotal.amount);
        // Tax: added, or inside the total.
        let net = q.subtotal.amount - q.discount.amount;
        match tax {
            TaxRule::Exclusive { .. } => prop_assert_eq!(q.total.amount, net + q.tax.amount),
            _ => prop_assert_eq!(q.total.amount, net),
        }
        // The same cart in another order costs the same.
        let mut shuffled = lines.clone();
        for (i, r) in shuffle.iter().enumerate().take(shuffled.len()) {
            let j = r % shuffled.len();
            shuffled.swap(i, j);
        }
        let again = quote(&QuoteInput { lines: &shuffled, ..input }).unwrap();
        prop_assert_eq!(
            (again.subtotal, again.discount, again.tax, again.total),
            (q.subtotal, q.discount, q.tax, q.total)
        );
    }
}
