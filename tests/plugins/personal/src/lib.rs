//! A strategy with two personal roles (ABI 1.2's `ROLE_PERSONAL`), for the host's privacy
//! tests: `email` (categorical) becomes a "business address" indicator and `phone` (numeric) a
//! "has a phone" indicator; neither value may reach a profile, a label, an output or a log.
//! Its labels list every category value the host shows it, so a personal value leaking into a
//! profile would show in the labels.

use strata_plugin_api::{
    Error, FeatureMatrix, Fitted, Input, Metric, Options, Role, SegmentProfile, Strategy,
    StrategyInfo, declare_strategy,
};

/// The strategy behind the plugin: clusters `features`, with indicators derived from the personal
/// `email` and `phone` roles.
pub struct Contacts;

const ROLES: &[Role] = &[
    Role::numeric("features", "numeric columns clustered as they are")
        .multi()
        .required(),
    Role::categorical("email", "e-mail address").personal(),
    Role::numeric("phone", "phone number").personal(),
    Role::categorical("segment_hint", "any category, shown in labels"),
];

const FREE_MAIL: [&str; 3] = ["gmail.com", "yahoo.com", "hotmail.com"];

impl Strategy for Contacts {
    type State = ();

    fn info() -> StrategyInfo {
        StrategyInfo {
            name: "contacts",
            version: "0.1.0",
            description: "Test strategy with personal roles",
            roles: ROLES,
            metric: Metric::Euclidean,
            default_k: 2,
        }
    }

    fn fit(input: &Input, _: &Options) -> Result<Fitted<()>, Error> {
        let mut features: Vec<String> = input
            .columns()
            .iter()
            .filter(|c| c.role == "features")
            .map(|c| c.name.to_owned())
            .collect();
        if input.role("email").next().is_some() {
            features.push("business_email".into());
        }
        if input.role("phone").next().is_some() {
            features.push("has_phone".into());
        }
        Ok(Fitted {
            features,
            state: (),
        })
    }

    fn transform(_: &(), input: &Input, out: &mut FeatureMatrix) -> Result<(), Error> {
        let mut f = 0;
        for c in input.columns().iter().filter(|c| c.role == "features") {
            out.set_column(f, c.numeric()?.iter().map(|&x| x as f32));
            f += 1;
        }
        if let Some(email) = input.role("email").next() {
            let (codes, dict) = email.categorical()?;
            let business: Vec<f32> = dict
                .iter()
                .map(|v| match v.rsplit_once('@') {
                    Some((_, domain)) if !FREE_MAIL.contains(&domain) => 1.0,
                    _ => 0.0,
                })
                .collect();
            out.set_column(
                f,
                codes
                    .iter()
                    .map(|&c| business.get(c as usize).copied().unwrap_or(0.0)),
            );
            f += 1;
        }
        if let Some(phone) = input.role("phone").next() {
            let values = phone.numeric()?;
            out.set_column(f, values.iter().map(|x| if x.is_nan() { 0.0 } else { 1.0 }));
        }
        Ok(())
    }

    fn label(_: &(), p: &SegmentProfile) -> String {
        let mut shown: Vec<&str> = p
            .categorical
            .iter()
            .flat_map(|c| c.levels.iter().map(|l| l.value))
            .collect();
        shown.extend(p.numeric.iter().map(|n| n.name));
        format!("Group {} [{}]", p.index, shown.join(" "))
    }
}

declare_strategy!(Contacts);
