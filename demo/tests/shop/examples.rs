//! The bundled example configuration is real: it validates, and each of its six workflows
//! passes in each of its environments against the shop, read through wfmon's own
//! configuration loader and run by its own runner. With the faults forced on, the same
//! workflows catch them.

use std::path::Path;
use std::time::Duration;

use wfmon_demo::{DEMO_PRODUCTS, DemoOptions, EXAMPLE_CONFIG, RunningShop};
use wfmon_engine::config::Config;
use wfmon_engine::runner::{NoObserver, RunContext, RunOutcome, run_workflow};

use crate::api::{Api, start, start_without_faults};

const WORKFLOWS: [&str; 6] = [
    "health-check",
    "user-login",
    "user-registration",
    "farm-creation",
    "product-listing",
    "order-placement",
];

/// The example configuration pointed at `shop`.
fn config_for(shop: &RunningShop) -> Config {
    let text = wfmon_demo::example_config(&shop.base_url());
    Config::parse(&text, Path::new("examples/wfmon.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one workflow once in one environment.
async fn run(config: &Config, workflow: &str, environment: &str, run_id: &str) -> RunOutcome {
    let workflow = config.workflow(workflow).unwrap();
    let ctx = RunContext::new(run_id, config.secrets.clone());
    run_workflow(
        workflow,
        &config.environments[environment],
        &ctx,
        &NoObserver,
    )
    .await
}

/// Every step with its status and error, for a failure message.
fn describe(outcome: &RunOutcome) -> String {
    let mut text = format!("{} {:?}", outcome.status.as_str(), outcome.error);
    for step in &outcome.steps {
        text.push_str(&format!(
            "\n  {} {} {:?}",
            step.name,
            step.status.as_str(),
            step.error
        ));
    }
    text
}

#[test]
fn the_example_file_validates_as_written() {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/wfmon.yaml");
    let config = Config::load(&file).unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = config.workflows.iter().map(|w| w.name.as_str()).collect();
    assert_eq!(names, WORKFLOWS);
    let environments: Vec<&str> = config.environments.keys().map(String::as_str).collect();
    assert_eq!(environments, ["local", "staging"]);
    for workflow in &config.workflows {
        assert_eq!(
            workflow.environments,
            ["local", "staging"],
            "{}",
            workflow.name
        );
        let schedule = workflow.schedule.as_ref().unwrap();
        assert_eq!(schedule.expression.split_whitespace().count(), 5);
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), EXAMPLE_CONFIG);
}

#[tokio::test]
async fn every_example_workflow_passes_in_every_environment() {
    let shop = start_without_faults().await;
    let config = config_for(&shop);
    let mut runs = 0;
    for workflow in WORKFLOWS {
        for environment in ["local", "staging"] {
            let run_id = format!("run_e2e_{runs}");
            let outcome = run(&config, workflow, environment, &run_id).await;
            assert_eq!(
                outcome.status.as_str(),
                "PASSED",
                "{workflow} in {environment}: {}",
                describe(&outcome)
            );
            assert!(outcome.tests_total > 0 && outcome.tests_failed == 0);
            runs += 1;
        }
    }
    assert_eq!(runs, 12);

    // The cleanup steps left the shop as it was: no monitor farm or product is left over,
    // and the registered accounts are gone.
    let api = Api::new(&shop);
    assert_eq!(api.get("/api/farms").await.body["total"], 1);
    assert_eq!(
        api.get("/api/products").await.body["total"],
        DEMO_PRODUCTS.len()
    );
    let leftover = api
        .login("monitor-run_e2e_4@example.com", "monitor-password-1")
        .await;
    assert_eq!(leftover.status, 401, "the registered account was deleted");
    shop.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_example_workflows_catch_the_deliberate_faults() {
    let shop = start(DemoOptions {
        slow_listing_rate: 1.0,
        slow_listing_delay: Duration::from_millis(600),
        order_failure_rate: 1.0,
        health_failure_rate: 1.0,
        ..DemoOptions::default()
    })
    .await;
    let config = config_for(&shop);

    let health = run(&config, "health-check", "local", "run_fault_1").await;
    assert_eq!(health.status.as_str(), "FAILED", "{}", describe(&health));
    let probe = health.steps[0].health.as_ref().unwrap();
    assert_eq!(probe.status.as_str(), "UNHEALTHY");

    // A slow listing breaches the soft threshold: a warning, not a failure.
    let listing = run(&config, "product-listing", "local", "run_fault_2").await;
    assert_eq!(listing.status.as_str(), "WARNING", "{}", describe(&listing));
    assert!(
        listing
            .breached_thresholds
            .iter()
            .any(|b| b.metric == "list products.response_time")
    );

    let order = run(&config, "order-placement", "local", "run_fault_3").await;
    assert_eq!(order.status.as_str(), "FAILED", "{}", describe(&order));
    let failed = order
        .steps
        .iter()
        .find(|s| s.status.as_str() == "FAILED")
        .unwrap();
    assert_eq!(failed.name, "place order");
    assert_eq!(failed.http_status, Some(500));
    shop.shutdown().await.unwrap();
}
