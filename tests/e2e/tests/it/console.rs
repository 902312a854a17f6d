//! The live console (`/ui`) in a real browser: Debian's headless chromium, driven over
//! WebDriver, against the release host. The page loads with no console errors; its
//! overview counts the traffic the test sends; an event whose text is HTML renders as
//! text; the Try-it form answers as `POST /predict` does; a version uploaded and put on
//! canary through the Admin view is the canary in `/admin/models`. Screenshots of each
//! view land in the scratch directory (and in `docs/img/` with
//! `WASML_UPDATE_SCREENSHOTS=1`).

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use wasml_e2e::{ScratchDir, start_host};
use wasml_test_support::bundled_component;
use wasml_test_support::http::{self, admin_ok};
use wasml_test_support::webdriver::Browser;

const TOKEN: &str = "console-admin-token";
const ROW: &str = r#"{"age": 41, "job": "technician", "marital": "married", "education": "tertiary",
    "housing": "no", "loan": "no", "duration": 600, "campaign": 1}"#;
/// Field names that are markup: the refusal's event carries them.
const HOSTILE: &str = r#"{"<script>document.title='pwned'</script>": 1,
    "<img src=x onerror=\"document.title='pwned'\">": 2}"#;
const WAIT: Duration = Duration::from_secs(30);

#[test]
fn the_console_shows_the_host_live_and_drives_it_through_the_admin_api() {
    let scratch = ScratchDir::new(env!("CARGO_TARGET_TMPDIR"), "console");
    let host = start_host(scratch.path(), &["--admin-token", TOKEN]);
    let base = format!("http://{}", host.address);
    let (status, _) = http::json(host.address, "POST", "/predict", HOSTILE).unwrap();
    assert_eq!(status, 422);

    let browser = Browser::start(1280, 900);
    browser.goto(&format!("{base}/ui"));
    assert!(
        browser.wait_for(
            "return Number(document.body.dataset.frames || 0) >= 2",
            WAIT
        ),
        "the stream never delivered two frames"
    );
    let paint = browser.execute(
        "const p = performance.getEntriesByName('first-contentful-paint')[0]; return p ? p.startTime : null",
        json!([]),
    );
    println!("first contentful paint: {paint} ms");

    // The overview counts what the test sends.
    let before: u64 = browser
        .text(&browser.find("#total"))
        .parse()
        .unwrap_or_default();
    for _ in 0..25 {
        let (status, _) = http::json(host.address, "POST", "/predict", ROW).unwrap();
        assert_eq!(status, 200);
    }
    assert!(
        browser.wait_for(
            &format!(
                "return Number(document.getElementById('total').textContent) >= {}",
                before + 25
            ),
            WAIT
        ),
        "the overview did not count 25 more requests (before: {before})"
    );
    assert!(
        browser.wait_for(
            "return document.querySelectorAll('#classes rect').length >= 1",
            WAIT
        ),
        "no class bars"
    );
    capture(&browser, scratch.path(), "overview");

    // Events: the refused request's markup is text, and nothing of it ran.
    browser.click(&browser.find("#tab-events"));
    assert!(
        browser.wait_for(
            "return Array.from(document.querySelectorAll('#event-rows td')).some(td => td.textContent.includes(\"<script>document.title='pwned'</script>\"))",
            WAIT
        ),
        "the hostile event is not shown as text"
    );
    let injected = browser.execute(
        "return [document.title, document.querySelectorAll('#event-rows script, #event-rows img').length]",
        json!([]),
    );
    assert_eq!(
        injected,
        json!(["wasml console", 0]),
        "markup from an event became the page's"
    );
    let error_rows = browser.execute(
        "return document.querySelectorAll('#event-rows tr.error').length",
        json!([]),
    );
    assert!(
        error_rows.as_u64() == Some(0),
        "a 422 is the client's error, not highlighted: {error_rows}"
    );
    capture(&browser, scratch.path(), "events");

    // Try it: the form answers as POST /predict does.
    browser.click(&browser.find("#tab-try"));
    assert!(
        browser.wait_for(
            "return document.querySelectorAll('#try-fields [name]').length === 8",
            WAIT
        ),
        "the form has no field per input"
    );
    let row: Value = serde_json::from_str(ROW).unwrap();
    for (name, value) in row.as_object().unwrap() {
        let field = browser.find(&format!("#try-fields [name='{name}']"));
        match value {
            Value::String(choice) => {
                browser.click(&field);
                browser.click(&browser.find(&format!(
                    "#try-fields [name='{name}'] option[value='{choice}']"
                )));
            }
            number => browser.type_into(&field, &number.to_string()),
        }
    }
    browser.click(&browser.find("#try-form button[type='submit']"));
    assert!(
        browser.wait_for("return !!document.getElementById('try-result')", WAIT),
        "no answer"
    );
    let shown = browser.execute(
        "return document.getElementById('try-result').dataset.label",
        json!([]),
    );
    let (_, answer) = http::json(host.address, "POST", "/predict", ROW).unwrap();
    assert_eq!(
        shown, answer["label"],
        "the page's answer is POST /predict's"
    );
    let text = browser.text(&browser.find("#try-result"));
    let confidence = answer["confidence"].as_f64().unwrap();
    assert!(
        text.contains(&format!("{:.1} %", 100.0 * confidence)),
        "{text} vs {answer}"
    );
    capture(&browser, scratch.path(), "try");

    // Admin: upload version 1, put it on canary, and the admin API says so.
    browser.click(&browser.find("#tab-admin"));
    browser.type_into(&browser.find("#admin-token"), TOKEN);
    browser.type_into(&browser.find("#upload-model"), "bank-marketing");
    browser.type_into(&browser.find("#upload-version"), "1.0.0");
    browser.choose_file(
        &browser.find("#upload-file"),
        bundled_component("bank-marketing", "v1"),
    );
    browser.click(&browser.find("#upload-form button[type='submit']"));
    // Version 1's "Canary 10 %" button, once the page lists it as ready.
    let canary_button = "Array.from(document.querySelectorAll('#admin-rows tr')).find(tr => tr.cells[1].textContent === '1.0.0' && tr.cells[2].textContent === 'ready')?.querySelectorAll('button')[1] ?? null";
    assert!(
        browser.wait_for(
            &format!("return !!({canary_button})"),
            Duration::from_secs(120)
        ),
        "version 1 never became ready in the page: {}",
        browser.text(&browser.find("#admin-result"))
    );
    let button = browser.find_by_script(&format!("return {canary_button}"));
    assert_eq!(browser.text(&button), "Canary 10 %");
    browser.click(&button);
    let listed = || admin_ok(host.address, TOKEN, "GET", "/admin/models", b"").json();
    assert!(
        wasml_e2e::eventually(WAIT, || {
            listed()["versions"].as_array().unwrap().iter().any(|v| {
                v["version"] == "1.0.0" && v["state"] == "canary" && v["canary_percent"] == 10
            })
        }),
        "{}",
        listed()
    );
    capture(&browser, scratch.path(), "admin");
    browser.click(&browser.find("#tab-models"));
    assert!(
        browser.wait_for(
            "return document.getElementById('version-rows').textContent.includes('canary (10 %)')",
            WAIT
        ),
        "the models view does not show the canary"
    );
    assert!(
        browser.wait_for(
            "return document.getElementById('timeline').textContent.includes('bank-marketing 1.0.0 canary')",
            WAIT
        ),
        "the swap history does not show the canary: {}",
        browser.text(&browser.find("#timeline"))
    );
    capture(&browser, scratch.path(), "models");

    // A phone's width: the page reflows, nothing scrolls sideways (tables scroll in
    // their own box).
    let phone = Browser::start(390, 844);
    phone.goto(&format!("{base}/ui"));
    assert!(
        phone.wait_for(
            "return Number(document.body.dataset.frames || 0) >= 1",
            WAIT
        ),
        "no frame at a phone's width"
    );
    for view in ["overview", "models", "events", "try", "admin"] {
        phone.click(&phone.find(&format!("#tab-{view}")));
        let overflow = phone.execute(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth",
            json!([]),
        );
        assert_eq!(overflow, json!(0), "{view} scrolls sideways at 390 px");
    }
    phone.click(&phone.find("#tab-overview"));
    capture(&phone, scratch.path(), "phone");
    drop(phone);

    let errors: Vec<_> = browser
        .console()
        .into_iter()
        .filter(|(level, _)| level == "SEVERE")
        .collect();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}

/// A screenshot of `view` in the scratch directory, and in `docs/img/` when asked.
fn capture(browser: &Browser, scratch: &Path, view: &str) {
    let path = scratch.join(format!("console-{view}.png"));
    browser.execute("window.scrollTo(0, 0)", json!([]));
    browser.screenshot(&path);
    if std::env::var_os("WASML_UPDATE_SCREENSHOTS").is_some() {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/img");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::copy(&path, docs.join(format!("console-{view}.png"))).unwrap();
    }
}
