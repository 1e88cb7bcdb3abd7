//! The simulated Okta org, driven over HTTP with a raw client: pagination, rate limits,
//! faults, partial mapping updates, errors, auth, request ids, the admin surface and the
//! provisioning ground truth. It does not use ouguard's Okta client.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ouguard::sim::{
    seed, EndpointFamily, Fault, FaultKind, ProvisioningOutcome, RequestMatcher, SimConfig, SimOrg,
    Trigger,
};
use ouguard::state::{AppStatus, OrgState};
use serde_json::{json, Value};

const CORP: &str = "corp.example.com";
const EMEA: &str = "emea.example.com";

fn app_id(domain: &str) -> String {
    seed::demo().directory(domain).unwrap().app_id.clone()
}

fn group_id(domain: &str, name: &str) -> String {
    let demo = seed::demo();
    let dir = demo.directory(domain).unwrap();
    dir.assignments
        .iter()
        .find(|a| a.group_name == name)
        .unwrap()
        .group_id
        .clone()
}

async fn start(cfg: SimConfig) -> SimOrg {
    SimOrg::start(cfg).await.unwrap()
}

async fn demo() -> SimOrg {
    start(SimConfig::default()).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(sim: &SimOrg, path: &str) -> reqwest::Response {
    client()
        .get(format!("{}{path}", sim.url()))
        .header("Authorization", format!("SSWS {}", sim.token()))
        .send()
        .await
        .unwrap()
}

async fn send(
    sim: &SimOrg,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = client()
        .request(method, format!("{}{path}", sim.url()))
        .header("Authorization", format!("SSWS {}", sim.token()));
    if let Some(body) = body {
        req = req.json(&body);
    }
    req.send().await.unwrap()
}

fn links(resp: &reqwest::Response) -> BTreeMap<String, String> {
    resp.headers()
        .get_all("link")
        .iter()
        .map(|v| {
            let v = v.to_str().unwrap();
            let (url, rel) = v.split_once(">; rel=\"").unwrap();
            (
                rel.trim_end_matches('"').to_string(),
                url.trim_start_matches('<').to_string(),
            )
        })
        .collect()
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_string())
}

async fn assert_okta_error(resp: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status);
    assert!(header(&resp, "x-okta-request-id").is_some());
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["errorCode"], code, "{body}");
    assert_eq!(body["errorLink"], code);
    assert!(body["errorSummary"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(body["errorId"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(body["errorCauses"].is_array());
    body
}

/// A one-directory org whose directory has `n` assignments.
fn org_with_groups(n: usize) -> OrgState {
    let mut dir = seed::directory(
        "small.example.com",
        AppStatus::Active,
        &["OU=A,DC=small,DC=example,DC=com"],
    );
    dir.assignments = (0..n)
        .map(|i| {
            seed::assignment(
                &format!("G{i:04}"),
                Some("OU=A,DC=small,DC=example,DC=com"),
                i64::try_from(i).unwrap(),
            )
        })
        .collect();
    OrgState {
        user_types: seed::demo_user_types(),
        directories: vec![dir],
        format_version: ouguard::state::SNAPSHOT_FORMAT_VERSION.to_string(),
        org_url: None,
    }
}

/// Follows `next` links; returns the page sizes.
async fn page_sizes(sim: &SimOrg, first: &str) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut url = format!("{}{first}", sim.url());
    loop {
        let resp = client()
            .get(&url)
            .header("Authorization", format!("SSWS {}", sim.token()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let l = links(&resp);
        assert!(l.contains_key("self"));
        let items: Vec<Value> = resp.json().await.unwrap();
        sizes.push(items.len());
        match l.get("next") {
            Some(next) => {
                assert!(next.starts_with(&sim.url()), "absolute next link: {next}");
                url = next.clone();
            }
            None => break,
        }
        assert!(sizes.len() < 50, "runaway pagination");
    }
    sizes
}

#[tokio::test]
async fn sim_starts_with_the_demo_state() {
    let sim = demo().await;
    assert_eq!(sim.state(), seed::demo());
    assert!(sim.url().starts_with("http://127.0.0.1:"));
    sim.shutdown().await;
}

#[tokio::test]
async fn sim_lists_ad_apps_as_okta_returns_them() {
    let sim = demo().await;
    let resp = get(
        &sim,
        "/api/v1/apps?filter=name%20eq%20%22active_directory%22&limit=200",
    )
    .await;
    assert_eq!(resp.status(), 200);
    let apps: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(apps.len(), 3);
    for app in &apps {
        assert_eq!(app["name"], "active_directory");
        assert!(app["signOnMode"].is_null());
        assert!(app["settings"]["app"]["searchOrgUnit"].is_null());
        let id = app["id"].as_str().unwrap();
        assert!(id.starts_with("0oa") && id.len() == 20);
        assert_eq!(app["label"], app["settings"]["app"]["namingContext"]);
        assert!(app["_links"]["self"]["href"]
            .as_str()
            .unwrap()
            .ends_with(id));
    }
    let statuses: Vec<&str> = apps.iter().map(|a| a["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["ACTIVE", "ACTIVE", "INACTIVE"]);

    let all: Vec<Value> = get(&sim, "/api/v1/apps").await.json().await.unwrap();
    assert_eq!(all.len(), 4, "the bookmark app is filtered out above");
    let q: Vec<Value> = get(&sim, "/api/v1/apps?q=emea").await.json().await.unwrap();
    assert_eq!(q.len(), 1);
    let bad = get(&sim, "/api/v1/apps?filter=label%20sw%20%22x%22").await;
    assert_okta_error(bad, 400, "E0000001").await;

    let one: Value = get(&sim, &format!("/api/v1/apps/{}", app_id(EMEA)))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["settings"]["app"]["namingContext"], EMEA);
    let missing = get(&sim, "/api/v1/apps/0oanope").await;
    let body = assert_okta_error(missing, 404, "E0000007").await;
    assert!(body["errorSummary"].as_str().unwrap().contains("0oanope"));
}

#[tokio::test]
async fn sim_paginates_app_groups_at_the_boundaries() {
    for (n, expected) in [
        (0, vec![0]),
        (1, vec![1]),
        (20, vec![20]),
        (21, vec![20, 1]),
        (45, vec![20, 20, 5]),
    ] {
        let sim = start(SimConfig {
            seed: org_with_groups(n),
            ..SimConfig::default()
        })
        .await;
        let app = &sim.state().directories[0].app_id.clone();
        // limit below 20 is clamped up to 20.
        let sizes = page_sizes(&sim, &format!("/api/v1/apps/{app}/groups?limit=5")).await;
        assert_eq!(sizes, expected, "n = {n}");
        let sizes = page_sizes(&sim, &format!("/api/v1/apps/{app}/groups")).await;
        assert_eq!(sizes, expected, "n = {n}, default limit");
    }
    let sim = demo().await;
    let corp = app_id(CORP);
    let sizes = page_sizes(
        &sim,
        &format!("/api/v1/apps/{corp}/groups?limit=200&expand=group"),
    )
    .await;
    assert_eq!(sizes, vec![200, 200, 57]);
    // limit above 200 is clamped down to 200.
    let sizes = page_sizes(&sim, &format!("/api/v1/apps/{corp}/groups?limit=1000")).await;
    assert_eq!(sizes, vec![200, 200, 57]);
    let bad = get(&sim, &format!("/api/v1/apps/{corp}/groups?after=bogus")).await;
    assert_okta_error(bad, 400, "E0000001").await;
    let bad = get(&sim, &format!("/api/v1/apps/{corp}/groups?limit=abc")).await;
    assert_okta_error(bad, 400, "E0000001").await;
}

/// Every item of a list, following `next` links.
async fn all_items(sim: &SimOrg, first: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut url = format!("{}{first}", sim.url());
    for _ in 0..100 {
        let resp = client()
            .get(&url)
            .header("Authorization", format!("SSWS {}", sim.token()))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let next = links(&resp).get("next").cloned();
        items.extend(resp.json::<Vec<Value>>().await.unwrap());
        match next {
            Some(next) => url = next,
            None => return items,
        }
    }
    panic!("runaway pagination");
}

#[tokio::test]
async fn sim_filters_app_groups_by_name_prefix_across_pages() {
    let sim = demo().await;
    let corp = app_id(CORP);
    let name = |item: &Value| {
        item["_embedded"]["group"]["profile"]["name"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let all = all_items(
        &sim,
        &format!("/api/v1/apps/{corp}/groups?limit=20&expand=group"),
    )
    .await;
    // The commonest first letter, so the filtered list spans pages too.
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    for item in &all {
        if let Some(c) = name(item).to_lowercase().chars().next() {
            *counts.entry(c).or_default() += 1;
        }
    }
    let (letter, count) = counts.into_iter().max_by_key(|(_, n)| *n).unwrap();
    assert!(count > 20, "{letter}: {count}");
    let filtered = all_items(
        &sim,
        &format!(
            "/api/v1/apps/{corp}/groups?limit=20&expand=group&q={}",
            letter.to_uppercase()
        ),
    )
    .await;
    let expected: Vec<&Value> = all
        .iter()
        .filter(|item| name(item).to_lowercase().starts_with(letter))
        .collect();
    assert_eq!(filtered.iter().collect::<Vec<_>>(), expected);
    // The embedded group's timestamps are fixed per group.
    let group = &all[0]["_embedded"]["group"];
    assert_eq!(group["created"], group["lastUpdated"]);
    assert_eq!(group["created"], group["lastMembershipUpdated"]);
    assert_eq!(
        group["created"].as_str().unwrap().len(),
        "2023-01-01T00:00:00.000Z".len()
    );
    let again = all_items(
        &sim,
        &format!("/api/v1/apps/{corp}/groups?limit=200&expand=group"),
    )
    .await;
    assert_eq!(again, all);
}

#[tokio::test]
async fn sim_links_keep_the_query_and_use_the_callers_host() {
    let sim = demo().await;
    let corp = app_id(CORP);
    let host_url = format!("http://localhost:{}", sim.addr().port());
    let resp = client()
        .get(format!(
            "{host_url}/api/v1/apps/{corp}/groups?limit=200&expand=group"
        ))
        .header("Authorization", format!("SSWS {}", sim.token()))
        .send()
        .await
        .unwrap();
    let l = links(&resp);
    assert_eq!(
        l["self"],
        format!("{host_url}/api/v1/apps/{corp}/groups?limit=200&expand=group")
    );
    let next = &l["next"];
    assert!(next.starts_with(&format!("{host_url}/api/v1/apps/{corp}/groups?")));
    assert!(next.contains("limit=200") && next.contains("expand=group") && next.contains("after="));
    let items: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(items[0]["_embedded"]["group"]["profile"]["name"], "Staff");
    assert_eq!(
        items[0]["profile"]["organizationalUnit"],
        "OU=Staff,DC=corp,DC=example,DC=com"
    );
    let plain: Vec<Value> = get(&sim, &format!("/api/v1/apps/{corp}/groups"))
        .await
        .json()
        .await
        .unwrap();
    assert!(plain[0].get("_embedded").is_none());
}

#[tokio::test]
async fn sim_lists_mappings_without_properties_and_pages_by_mapping_id() {
    let sim = demo().await;
    let emea = app_id(EMEA);
    let resp = get(&sim, &format!("/api/v1/mappings?targetId={emea}")).await;
    let to_app: Vec<Value> = resp.json().await.unwrap();
    assert_eq!(to_app.len(), 2, "one per user type");
    for m in &to_app {
        assert!(m.get("properties").is_none());
        assert_eq!(m["source"]["type"], "user");
        assert_eq!(m["target"]["type"], "appuser");
        assert_eq!(m["target"]["id"], emea.as_str());
        assert!(m["id"].as_str().unwrap().starts_with("prm"));
    }
    let from_app: Vec<Value> = get(&sim, &format!("/api/v1/mappings?sourceId={emea}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(from_app.len(), 1);
    assert_eq!(from_app[0]["source"]["type"], "appuser");

    // All mappings: 3 directories × (user types + 1 From-App) minus lab's missing contractor.
    let sizes = page_sizes(&sim, "/api/v1/mappings?limit=2").await;
    assert_eq!(sizes.iter().sum::<usize>(), 8);
    assert_eq!(sizes, vec![2, 2, 2, 2]);
    let all: Vec<Value> = get(&sim, "/api/v1/mappings?limit=200")
        .await
        .json()
        .await
        .unwrap();
    let second = all[1]["id"].as_str().unwrap();
    let after: Vec<Value> = get(&sim, &format!("/api/v1/mappings?after={second}&limit=200"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(after.len(), 6);
    assert_eq!(after[0]["id"], all[2]["id"]);

    let dn_mapping = to_app
        .iter()
        .find(|m| m["source"]["name"] == "user")
        .unwrap();
    let full: Value = get(
        &sim,
        &format!("/api/v1/mappings/{}", dn_mapping["id"].as_str().unwrap()),
    )
    .await
    .json()
    .await
    .unwrap();
    assert!(full["properties"]["dn"]["expression"]
        .as_str()
        .unwrap()
        .contains("CN="));
    assert_eq!(full["properties"]["dn"]["pushStatus"], "PUSH");
    assert_okta_error(get(&sim, "/api/v1/mappings/prmnope").await, 404, "E0000007").await;
}

#[tokio::test]
async fn sim_updates_mappings_partially() {
    let sim = demo().await;
    let emea = app_id(EMEA);
    let list: Vec<Value> = get(&sim, &format!("/api/v1/mappings?targetId={emea}"))
        .await
        .json()
        .await
        .unwrap();
    let id = list.iter().find(|m| m["source"]["name"] == "user").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v1/mappings/{id}");
    let before: Value = get(&sim, &path).await.json().await.unwrap();
    let keys = |v: &Value| {
        v["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };

    // `"dn": null` removes only dn.
    let resp = send(
        &sim,
        reqwest::Method::POST,
        &path,
        Some(json!({"properties": {"dn": null}})),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let after: Value = resp.json().await.unwrap();
    assert!(after["properties"].get("dn").is_none());
    let mut expected = keys(&before);
    expected.retain(|k| k != "dn");
    assert_eq!(keys(&after), expected);
    assert_eq!(
        after["properties"]["firstName"],
        before["properties"]["firstName"]
    );
    let reread: Value = get(&sim, &path).await.json().await.unwrap();
    assert_eq!(reread, after);

    // `{"expression": null, "pushStatus": null}` removes too.
    let resp = send(
        &sim,
        reqwest::Method::POST,
        &path,
        Some(json!({"properties": {"email": {"expression": null, "pushStatus": null}}})),
    )
    .await;
    let after: Value = resp.json().await.unwrap();
    assert!(after["properties"].get("email").is_none());
    assert!(after["properties"].get("firstName").is_some());

    // Only pushStatus: the expression is kept.
    let resp = send(
        &sim,
        reqwest::Method::POST,
        &path,
        Some(json!({"properties": {"firstName": {"pushStatus": "DONT_PUSH"}}})),
    )
    .await;
    let after: Value = resp.json().await.unwrap();
    assert_eq!(
        after["properties"]["firstName"],
        json!({"expression": "user.firstName", "pushStatus": "DONT_PUSH"})
    );

    // A new key.
    let resp = send(
        &sim,
        reqwest::Method::POST,
        &path,
        Some(json!({"properties": {"title": {"expression": "user.title", "pushStatus": "PUSH"}}})),
    )
    .await;
    let after: Value = resp.json().await.unwrap();
    assert_eq!(after["properties"]["title"]["expression"], "user.title");

    // Invalid bodies change nothing.
    let state_before = sim.state();
    assert_okta_error(
        send(
            &sim,
            reqwest::Method::POST,
            &path,
            Some(json!({"properties": {"x": {"expression": "a", "pushStatus": "SOMETIMES"}}})),
        )
        .await,
        400,
        "E0000001",
    )
    .await;
    assert_okta_error(
        send(&sim, reqwest::Method::POST, &path, Some(json!({"nope": 1}))).await,
        400,
        "E0000001",
    )
    .await;
    let bad_json = client()
        .post(format!("{}{path}", sim.url()))
        .header("Authorization", format!("SSWS {}", sim.token()))
        .header("Content-Type", "application/json")
        .body("{\"properties\": ")
        .send()
        .await
        .unwrap();
    assert_okta_error(bad_json, 400, "E0000001").await;
    assert_eq!(sim.state(), state_before);
    assert!(sim
        .state()
        .directory(EMEA)
        .unwrap()
        .mappings
        .iter()
        .all(|m| !m.properties.contains_key("dn")));
}

#[tokio::test]
async fn sim_put_and_patch_group_assignments_move_last_updated() {
    let sim = demo().await;
    let corp = app_id(CORP);
    let marketing = group_id(CORP, "Marketing");
    let path = format!("/api/v1/apps/{corp}/groups/{marketing}");
    let before: Value = get(&sim, &path).await.json().await.unwrap();
    assert_eq!(before["id"], marketing.as_str());

    let resp = send(
        &sim,
        reqwest::Method::PUT,
        &path,
        Some(json!({
            "priority": before["priority"],
            "profile": {"organizationalUnit": "OU=Staff,DC=corp,DC=example,DC=com"}
        })),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let put: Value = resp.json().await.unwrap();
    assert_eq!(
        put["profile"]["organizationalUnit"],
        "OU=Staff,DC=corp,DC=example,DC=com"
    );
    let stamp = |v: &Value| v["lastUpdated"].as_str().unwrap().to_string();
    assert!(
        stamp(&put) > stamp(&before),
        "{} > {}",
        stamp(&put),
        stamp(&before)
    );
    let ms_format = |s: &str| s.len() == 24 && s.ends_with('Z') && &s[19..20] == ".";
    assert!(ms_format(&stamp(&put)), "{}", stamp(&put));

    let resp = send(&sim, reqwest::Method::PATCH, &path, Some(json!([
        {"op": "replace", "path": "/profile/organizationalUnit", "value": "OU=Contractors,DC=corp,DC=example,DC=com"}
    ]))).await;
    assert_eq!(resp.status(), 200);
    let patched: Value = resp.json().await.unwrap();
    assert_eq!(
        patched["profile"]["organizationalUnit"],
        "OU=Contractors,DC=corp,DC=example,DC=com"
    );
    assert!(stamp(&patched) > stamp(&put));
    assert_eq!(
        sim.state()
            .directory(CORP)
            .unwrap()
            .assignment(&marketing)
            .unwrap()
            .organizational_unit
            .as_deref(),
        Some("OU=Contractors,DC=corp,DC=example,DC=com")
    );

    // Bad bodies.
    assert_okta_error(
        send(
            &sim,
            reqwest::Method::PATCH,
            &path,
            Some(json!([{"op": "move", "path": "/priority"}])),
        )
        .await,
        400,
        "E0000001",
    )
    .await;
    assert_okta_error(
        send(
            &sim,
            reqwest::Method::PUT,
            &path,
            Some(json!({"profile": {"organizationalUnit": 7}})),
        )
        .await,
        400,
        "E0000001",
    )
    .await;
    assert_okta_error(
        send(&sim, reqwest::Method::PUT, &path, Some(json!([1]))).await,
        400,
        "E0000001",
    )
    .await;
    assert_okta_error(
        send(
            &sim,
            reqwest::Method::PUT,
            &format!("/api/v1/apps/{corp}/groups/00gnope"),
            Some(json!({})),
        )
        .await,
        404,
        "E0000007",
    )
    .await;
    assert_okta_error(
        get(&sim, &format!("/api/v1/apps/{corp}/groups/00gnope")).await,
        404,
        "E0000007",
    )
    .await;

    // The writes are in the System Log.
    let logs: Vec<Value> = get(&sim, "/api/v1/logs?q=group.application_assignment")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(logs.len(), 2);
    assert_eq!(logs[0]["eventType"], "group.application_assignment.update");
    assert!(logs.iter().all(|e| e["target"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["id"] == marketing.as_str())));
    let future: Vec<Value> = get(&sim, "/api/v1/logs?since=2999-01-01T00:00:00.000Z")
        .await
        .json()
        .await
        .unwrap();
    assert!(future.is_empty());
    assert_okta_error(
        get(&sim, "/api/v1/logs?since=yesterday").await,
        400,
        "E0000001",
    )
    .await;
}

#[tokio::test]
async fn sim_answers_auth_errors_like_okta() {
    let sim = demo().await;
    let url = format!("{}/api/v1/apps", sim.url());
    let none = client().get(&url).send().await.unwrap();
    assert!(none.headers().get("www-authenticate").is_none());
    let body = assert_okta_error(none, 401, "E0000011").await;
    assert_eq!(body["errorSummary"], "Invalid token provided");
    let wrong = client()
        .get(&url)
        .header("Authorization", "SSWS wrong")
        .send()
        .await
        .unwrap();
    assert_okta_error(wrong, 401, "E0000011").await;
    let bearer = client()
        .get(&url)
        .header("Authorization", format!("Bearer {}", sim.token()))
        .send()
        .await
        .unwrap();
    assert_okta_error(bearer, 401, "E0000011").await;
}

#[tokio::test]
async fn sim_can_make_profile_mappings_unavailable() {
    let sim = start(SimConfig {
        mappings_unavailable: true,
        ..SimConfig::default()
    })
    .await;
    assert_okta_error(get(&sim, "/api/v1/mappings").await, 401, "E0000011").await;
    assert_eq!(get(&sim, "/api/v1/apps").await.status(), 200);
    assert_eq!(get(&sim, "/api/v1/meta/types/user").await.status(), 200);
    sim.set_mappings_unavailable(false);
    assert_eq!(get(&sim, "/api/v1/mappings").await.status(), 200);
}

#[tokio::test]
async fn sim_errors_for_unknown_paths_and_methods() {
    let sim = demo().await;
    assert_okta_error(get(&sim, "/api/v1/users").await, 404, "E0000007").await;
    assert_okta_error(get(&sim, "/nothing/here").await, 404, "E0000007").await;
    let resp = send(&sim, reqwest::Method::DELETE, "/api/v1/mappings", None).await;
    assert_okta_error(resp, 405, "E0000022").await;
    let resp = send(
        &sim,
        reqwest::Method::POST,
        "/api/v1/apps/0oa1/groups",
        Some(json!({})),
    )
    .await;
    assert_okta_error(resp, 405, "E0000022").await;
}

#[tokio::test]
async fn sim_puts_a_unique_request_id_and_a_date_on_every_response() {
    let sim = start(SimConfig {
        rate_limit_per_minute: 2,
        rate_limit_window: Duration::from_secs(60),
        ..SimConfig::default()
    })
    .await;
    let mut ids = Vec::new();
    for path in [
        "/api/v1/apps",
        "/api/v1/apps",
        "/api/v1/apps",
        "/api/v1/nope",
        "/",
        "/api/v1/apps/0oax",
    ] {
        let resp = get(&sim, path).await;
        assert!(resp.headers().contains_key("date"), "{path}");
        ids.push(header(&resp, "x-okta-request-id").unwrap());
    }
    let unauth = client()
        .get(format!("{}/api/v1/logs", sim.url()))
        .send()
        .await
        .unwrap();
    ids.push(header(&unauth, "x-okta-request-id").unwrap());
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    let recorded: Vec<String> = sim
        .requests()
        .iter()
        .map(|r| r.request_id.clone())
        .collect();
    assert_eq!(recorded, ids);
    let statuses: Vec<Option<u16>> = sim.requests().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            Some(200),
            Some(200),
            Some(429),
            Some(404),
            Some(404),
            Some(429),
            Some(401)
        ]
    );
}

#[tokio::test]
async fn sim_rate_limits_per_family_and_window() {
    let window = Duration::from_millis(1000);
    let sim = start(SimConfig {
        rate_limit_per_minute: 3,
        rate_limit_overrides: [(EndpointFamily::Logs, 1)].into_iter().collect(),
        rate_limit_window: window,
        ..SimConfig::default()
    })
    .await;
    // The window opens when the first request arrives, which is before its answer is
    // read: timing from the first answer can only wait too long, never too short.
    let mut started = None;
    let now_epoch = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    for remaining in [2, 1, 0] {
        let resp = get(&sim, "/api/v1/apps").await;
        started.get_or_insert_with(Instant::now);
        assert_eq!(resp.status(), 200);
        assert_eq!(header(&resp, "x-rate-limit-limit").as_deref(), Some("3"));
        assert_eq!(
            header(&resp, "x-rate-limit-remaining"),
            Some(remaining.to_string())
        );
        let reset: u64 = header(&resp, "x-rate-limit-reset")
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            reset >= now_epoch() && reset <= now_epoch() + 2,
            "reset {reset}"
        );
    }
    let over = get(&sim, "/api/v1/apps").await;
    assert_eq!(
        header(&over, "x-rate-limit-remaining").as_deref(),
        Some("0")
    );
    assert!(header(&over, "x-rate-limit-reset").is_some());
    assert_okta_error(over, 429, "E0000047").await;
    // Other families have their own budget; logs has its override.
    assert_eq!(get(&sim, "/api/v1/meta/types/user").await.status(), 200);
    let logs = get(&sim, "/api/v1/logs").await;
    assert_eq!(header(&logs, "x-rate-limit-limit").as_deref(), Some("1"));
    assert_eq!(logs.status(), 200);
    assert_eq!(get(&sim, "/api/v1/logs").await.status(), 429);
    // A new window.
    let elapsed = started.map_or(Duration::ZERO, |s| s.elapsed());
    if elapsed < window {
        tokio::time::sleep(window - elapsed + Duration::from_millis(30)).await;
    }
    let resp = get(&sim, "/api/v1/apps").await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        header(&resp, "x-rate-limit-remaining").as_deref(),
        Some("2")
    );
}

#[tokio::test]
async fn sim_refuses_requests_over_the_concurrency_limit() {
    let sim = start(SimConfig {
        concurrency_limit: Some(1),
        latency: Duration::from_millis(500),
        ..SimConfig::default()
    })
    .await;
    let (a, b) = tokio::join!(get(&sim, "/api/v1/meta/types/user"), async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        get(&sim, "/api/v1/meta/types/user").await
    });
    assert_eq!(a.status(), 200);
    assert_eq!(header(&b, "x-rate-limit-limit").as_deref(), Some("0"));
    assert_okta_error(b, 429, "E0000047").await;
    assert_eq!(get(&sim, "/api/v1/meta/types/user").await.status(), 200);
}

#[tokio::test]
async fn sim_adds_latency_with_jitter() {
    let sim = start(SimConfig {
        latency: Duration::from_millis(400),
        latency_jitter: Duration::from_millis(30),
        ..SimConfig::default()
    })
    .await;
    let t = Instant::now();
    assert_eq!(get(&sim, "/api/v1/meta/types/user").await.status(), 200);
    assert!(t.elapsed() >= Duration::from_millis(400));
    // The admin surface is never slowed down: started after a slowed API request, it is
    // answered first (an ordering, not a stopwatch).
    let api = get(&sim, "/api/v1/meta/types/user");
    let admin = async {
        // Let the API request reach the simulator first.
        tokio::time::sleep(Duration::from_millis(50)).await;
        client()
            .get(format!("{}/sim/state", sim.url()))
            .send()
            .await
            .unwrap()
    };
    let first = tokio::select! {
        _ = api => "api",
        _ = admin => "admin",
    };
    assert_eq!(first, "admin", "the admin request waited for the latency");
}

#[tokio::test]
async fn sim_server_error_on_the_nth_matching_request() {
    let sim = demo().await;
    let corp = app_id(CORP);
    sim.inject(
        Fault::on_nth(2, FaultKind::ServerError { status: 503 })
            .matching(Some("GET"), Some(&format!("/api/v1/apps/{corp}/groups"))),
    );
    assert_eq!(
        get(&sim, "/api/v1/apps").await.status(),
        200,
        "not matching"
    );
    assert_eq!(
        get(&sim, &format!("/api/v1/apps/{corp}/groups"))
            .await
            .status(),
        200
    );
    assert_okta_error(
        get(&sim, &format!("/api/v1/apps/{corp}/groups")).await,
        503,
        "E0000009",
    )
    .await;
    assert_eq!(
        get(&sim, &format!("/api/v1/apps/{corp}/groups"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn sim_server_errors_at_a_seeded_rate() {
    let run = || async {
        let sim = start(SimConfig {
            faults: vec![Fault {
                kind: FaultKind::ServerError { status: 500 },
                trigger: Trigger::Rate { probability: 0.5 },
                matcher: RequestMatcher::default(),
            }],
            fault_seed: 7,
            ..SimConfig::default()
        })
        .await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(get(&sim, "/api/v1/meta/types/user").await.status().as_u16());
        }
        statuses
    };
    let a = run().await;
    assert_eq!(a, run().await, "same seed, same faults");
    assert!(a.contains(&500) && a.contains(&200));
}

#[tokio::test]
async fn sim_resets_connections() {
    let sim = demo().await;
    sim.inject(Fault::on_nth(1, FaultKind::ConnectionReset));
    let err = client()
        .get(format!("{}/api/v1/apps", sim.url()))
        .header("Authorization", format!("SSWS {}", sim.token()))
        .send()
        .await
        .expect_err("the connection is dropped");
    assert!(!err.is_timeout() && err.status().is_none(), "{err:?}");
    assert_eq!(get(&sim, "/api/v1/apps").await.status(), 200);
    let log = sim.requests();
    assert!(log[0].dropped && log[0].status.is_none());
}

#[tokio::test]
async fn sim_lost_response_applies_the_write() {
    let sim = demo().await;
    let corp = app_id(CORP);
    let marketing = group_id(CORP, "Marketing");
    let path = format!("/api/v1/apps/{corp}/groups/{marketing}");
    sim.inject(Fault::on_nth(1, FaultKind::LostResponse).matching(Some("PUT"), None));
    let err = client()
        .put(format!("{}{path}", sim.url()))
        .header("Authorization", format!("SSWS {}", sim.token()))
        .json(&json!({"priority": 3, "profile": {"organizationalUnit": "OU=Staff,DC=corp,DC=example,DC=com"}}))
        .send()
        .await
        .expect_err("no response");
    assert!(err.status().is_none());
    let now: Value = get(&sim, &path).await.json().await.unwrap();
    assert_eq!(
        now["profile"]["organizationalUnit"],
        "OU=Staff,DC=corp,DC=example,DC=com"
    );
    let write = sim.requests().into_iter().find(|r| r.write).unwrap();
    assert!(write.dropped);
    assert_eq!(write.status, Some(200));
    assert!(write.response_body.unwrap().contains("OU=Staff"));
}

#[tokio::test]
async fn sim_streams_a_slow_body() {
    let sim = demo().await;
    let corp = app_id(CORP);
    let fast = get(&sim, &format!("/api/v1/apps/{corp}/groups?limit=200"))
        .await
        .text()
        .await
        .unwrap();
    sim.inject(Fault::on_nth(
        1,
        FaultKind::SlowBody {
            chunk_bytes: fast.len() / 4 + 1,
            delay_ms: 60,
        },
    ));
    let t = Instant::now();
    let resp = get(&sim, &format!("/api/v1/apps/{corp}/groups?limit=200")).await;
    assert_eq!(resp.status(), 200);
    let slow = resp.text().await.unwrap();
    assert!(
        t.elapsed() >= Duration::from_millis(180),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(slow.len(), fast.len());
    let parsed: Vec<Value> = serde_json::from_str(&slow).unwrap();
    assert_eq!(parsed.len(), 200);
}

#[tokio::test]
async fn sim_429_storm_hits_the_next_requests() {
    let sim = demo().await;
    sim.inject(Fault::rate_limit_storm(2));
    for _ in 0..2 {
        let resp = get(&sim, "/api/v1/apps").await;
        assert_eq!(
            header(&resp, "x-rate-limit-remaining").as_deref(),
            Some("0")
        );
        assert!(header(&resp, "x-rate-limit-limit").is_some());
        assert!(header(&resp, "x-rate-limit-reset").is_some());
        assert_okta_error(resp, 429, "E0000047").await;
    }
    assert_eq!(get(&sim, "/api/v1/apps").await.status(), 200);
}

#[tokio::test]
async fn sim_admin_surface() {
    let sim = demo().await;
    let c = client();
    let base = sim.url();
    // Tick an import OU by domain.
    let resp = c
        .post(format!("{base}/sim/directories/{CORP}/import-ous"))
        .json(&json!({"ou": "OU=Marketing,DC=corp,DC=example,DC=com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["added"], true);
    assert!(sim
        .state()
        .directory(CORP)
        .unwrap()
        .import_ous
        .as_ref()
        .unwrap()
        .ous
        .contains(&"OU=Marketing,DC=corp,DC=example,DC=com".to_string()));
    let resp = c
        .post(format!(
            "{base}/sim/directories/nope.example.com/import-ous"
        ))
        .json(&json!({"ou": "OU=X,DC=nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let resp = c
        .post(format!("{base}/sim/directories/{CORP}/import-ous"))
        .json(&json!({"ou": "OU=X,,"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // State round trip.
    let state: OrgState = c
        .get(format!("{base}/sim/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state, sim.state());
    let small = org_with_groups(3);
    let resp = c
        .put(format!("{base}/sim/state"))
        .json(&small)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(sim.state(), small);
    let resp = c
        .put(format!("{base}/sim/state"))
        .body("{\"directories\": 5}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Faults over HTTP.
    let resp = c
        .post(format!("{base}/sim/faults"))
        .json(&json!({"kind": {"type": "server_error", "status": 502}, "trigger": {"type": "next", "count": 1}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(get(&sim, "/api/v1/apps").await.status(), 502);
    assert_eq!(get(&sim, "/api/v1/apps").await.status(), 200);

    // Request log, without /sim/ requests.
    let log: Vec<Value> = c
        .get(format!("{base}/sim/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["status"], 502);
    assert_eq!(log[0]["seq"], 1);
    assert_eq!(log[0]["path"], "/api/v1/apps");
    assert_eq!(log[0]["write"], false);
    assert!(log[0]["request_id"].is_string() && log[0]["timestamp"].is_string());
    assert!(log[0].get("request_body").is_none());

    let resp = c
        .put(format!("{base}/sim/mappings-unavailable"))
        .json(&json!({"unavailable": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(get(&sim, "/api/v1/mappings").await.status(), 401);
    assert_eq!(
        c.get(format!("{base}/sim/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
}

#[tokio::test]
async fn sim_refuses_non_loopback_addresses() {
    let err = SimOrg::start(SimConfig {
        listen: "0.0.0.0:0".parse().unwrap(),
        ..SimConfig::default()
    })
    .await
    .unwrap_err();
    assert!(err.to_string().contains("non-loopback"), "{err}");
}

#[test]
fn sim_starts_blocking_for_synchronous_tests() {
    let sim = SimOrg::start_blocking(SimConfig::default()).unwrap();
    let url = sim.url();
    let token = sim.token().to_string();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = rt.block_on(async {
        client()
            .get(format!("{url}/api/v1/meta/types/user"))
            .header("Authorization", format!("SSWS {token}"))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status, 200);
    assert_eq!(sim.requests().len(), 1);
    sim.shutdown();
}

#[tokio::test]
async fn sim_user_types() {
    let sim = demo().await;
    let types: Vec<Value> = get(&sim, "/api/v1/meta/types/user")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(types.len(), 2);
    assert_eq!(types[0]["default"], true);
    assert_eq!(types[1]["displayName"], "Contractor");
    assert!(types[1]["id"].as_str().unwrap().starts_with("oty"));
}

#[tokio::test]
async fn sim_provisioning_check_on_the_demo_org() {
    let sim = demo().await;
    let report = sim.provisioning_check();
    let outcome = |domain: &str, name: &str| report.find(domain, name).unwrap().outcome;
    use ProvisioningOutcome::*;
    for (name, expected) in [
        ("Staff", Succeeds),
        ("Engineering", Succeeds),
        ("Contractors", Succeeds),
        ("Team 001", Succeeds),
        ("Team 450", Succeeds),
        ("Marketing", Fails),
        ("EMEA Sales", Fails),
        ("Finance", Fails),
        ("All Staff (no OU)", NoTargetOu),
    ] {
        assert_eq!(outcome(CORP, name), expected, "{name}");
    }
    for name in ["EMEA Staff", "EMEA Finance", "EMEA Marketing"] {
        let check = report.find(EMEA, name).unwrap();
        assert_eq!(
            check.outcome, Fails,
            "{name}: the dn mapping breaks every provisioning"
        );
        assert_eq!(
            check.error.as_deref(),
            Some("Target OU is not an import OU")
        );
        assert!(
            check.reasons.iter().any(|r| r.contains("`dn`")),
            "{:?}",
            check.reasons
        );
    }
    assert!(
        report.find("lab.example.com", "Lab Users").is_none(),
        "inactive: not provisioning"
    );
    assert_eq!(report.failing().len(), 6);

    // The admin fixes things: tick Marketing, drop the dn mapping.
    sim.tick_import_ou(CORP, "OU=Marketing,DC=corp,DC=example,DC=com")
        .unwrap();
    let emea = app_id(EMEA);
    let list: Vec<Value> = get(&sim, &format!("/api/v1/mappings?targetId={emea}"))
        .await
        .json()
        .await
        .unwrap();
    for m in list {
        let id = m["id"].as_str().unwrap();
        send(
            &sim,
            reqwest::Method::POST,
            &format!("/api/v1/mappings/{id}"),
            Some(json!({"properties": {"dn": null}})),
        )
        .await;
    }
    let report = sim.provisioning_check();
    assert_eq!(report.find(CORP, "Marketing").unwrap().outcome, Succeeds);
    assert_eq!(report.find(EMEA, "EMEA Staff").unwrap().outcome, Succeeds);
    assert_eq!(report.find(EMEA, "EMEA Marketing").unwrap().outcome, Fails);

    let over_http: Value = client()
        .get(format!("{}/sim/provisioning-check", sim.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        over_http["results"].as_array().unwrap().len(),
        report.results.len()
    );
}

#[tokio::test]
async fn sim_serves_a_generated_large_org() {
    let params = ouguard::sim::GeneratorParams {
        directories: 5,
        groups: 1000,
        ..Default::default()
    };
    let seed = ouguard::sim::large_org(params);
    let biggest = seed.directories[0].assignments.len();
    assert_eq!(biggest, 400);
    let sim = start(SimConfig {
        seed: seed.clone(),
        ..SimConfig::default()
    })
    .await;
    assert_eq!(sim.state(), seed);
    let app = seed.directories[0].app_id.clone();
    let sizes = page_sizes(&sim, &format!("/api/v1/apps/{app}/groups?limit=200")).await;
    assert_eq!(sizes, vec![200, 200]);
}

#[tokio::test]
async fn sim_provisioning_check_treats_distinguished_name_keys_like_dn() {
    let mut org = seed::demo();
    let corp = org.directory_mut(CORP).unwrap();
    // A null expression is no mapping; `DistinguishedName` (any case) is.
    corp.mappings[0].properties.insert(
        "dn".into(),
        ouguard::state::MappingProperty {
            expression: None,
            push_status: None,
        },
    );
    let sim = start(SimConfig {
        seed: org.clone(),
        ..SimConfig::default()
    })
    .await;
    assert_eq!(
        sim.provisioning_check()
            .find(CORP, "Staff")
            .unwrap()
            .outcome,
        ProvisioningOutcome::Succeeds
    );
    org.directory_mut(CORP).unwrap().mappings[1]
        .properties
        .insert(
            "DistinguishedName".into(),
            ouguard::state::MappingProperty {
                expression: Some("user.dn".into()),
                push_status: Some("PUSH".into()),
            },
        );
    sim.set_state(&org).unwrap();
    let staff = sim.provisioning_check();
    let staff = staff.find(CORP, "Staff").unwrap();
    assert_eq!(staff.outcome, ProvisioningOutcome::Fails);
    assert!(
        staff.reasons[0].contains("DistinguishedName"),
        "{:?}",
        staff.reasons
    );
}

#[tokio::test]
async fn sim_patch_removes_profile_keys() {
    let sim = demo().await;
    let path = format!(
        "/api/v1/apps/{}/groups/{}",
        app_id(CORP),
        group_id(CORP, "Staff")
    );
    let resp = send(
        &sim,
        reqwest::Method::PATCH,
        &path,
        Some(json!([{"op": "remove", "path": "/profile/organizationalUnit"}])),
    )
    .await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert!(body["profile"].get("organizationalUnit").is_none());
    assert_eq!(
        sim.provisioning_check()
            .find(CORP, "Staff")
            .unwrap()
            .outcome,
        ProvisioningOutcome::NoTargetOu
    );
}

#[tokio::test]
async fn sim_answers_undecodable_paths_with_okta_errors() {
    let sim = demo().await;
    assert_okta_error(get(&sim, "/api/v1/apps/%FF%FE").await, 404, "E0000007").await;
}
