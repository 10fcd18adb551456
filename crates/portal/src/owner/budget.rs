//! The budget page: per dataset of this owner, ε spent and left, runs so far, runs left at the
//! agreement's ε per run, and a chart of the spending.

use sealroom_broker::Broker;

use crate::chart;
use crate::owner::agreements::Known;
use crate::page::{PageError, epsilon, short};

/// One dataset's budget under one agreement.
pub struct BudgetView {
    /// The agreement's page.
    pub agreement_href: String,
    /// The agreement's name and short id.
    pub agreement: String,
    /// The dataset.
    pub dataset: String,
    /// Total ε.
    pub total: String,
    /// ε spent.
    pub spent: String,
    /// ε left.
    pub remaining: String,
    /// Releases so far.
    pub runs: u64,
    /// ε per run.
    pub per_run: String,
    /// Runs the rest of the budget allows at that rate.
    pub runs_left: u64,
    /// The chart (SVG markup made by [`chart::spending`], which escapes its text).
    pub chart: String,
}

/// The budgets of every dataset this owner has in the agreements it knows.
pub fn budgets(broker: &Broker, known: &[Known]) -> Result<Vec<BudgetView>, PageError> {
    let me = broker.card().name;
    let kept = broker.store().budgets()?;
    let mut views = Vec::new();
    for k in known {
        let Ok(signed) = &k.signed else { continue };
        let a = &signed.agreement;
        for dataset in a.datasets.iter().filter(|d| d.owner == me) {
            let total = a.privacy.total_epsilon_per_dataset.micros();
            let per_run = a.privacy.epsilon_per_run.micros();
            let row = kept
                .iter()
                .find(|b| b.agreement == k.id && b.dataset == dataset.name);
            let (spent, runs) = row.map_or((0, 0), |b| (b.spent_micros, b.releases));
            let remaining = total.saturating_sub(spent);
            let label = format!(
                "ε spent on {} under {}: {} of {} after {runs} runs",
                dataset.name,
                a.name,
                epsilon(spent),
                epsilon(total)
            );
            views.push(BudgetView {
                agreement_href: format!("/portal/agreements/{}", k.id),
                agreement: format!("{} ({})", a.name, short(&k.id)),
                dataset: dataset.name.clone(),
                total: epsilon(total),
                spent: epsilon(spent),
                remaining: epsilon(remaining),
                runs,
                per_run: epsilon(per_run),
                runs_left: remaining.checked_div(per_run).unwrap_or(0),
                chart: chart::spending(runs, per_run, total, &label),
            });
        }
    }
    Ok(views)
}
