//! Connected sites, as Mailchimp keeps them: `GET`/`POST /connected-sites`,
//! `GET`/`DELETE /connected-sites/{id}`, and `POST …/actions/verify-script-installation`,
//! which fetches the site's home page (`http://<domain>/`) and looks for the script there.
//! The script itself is served at `/__sim/mcjs/{file}.js`, so that a page printing it loads.

use serde_json::{Value, json};

use super::problem::SimError;

/// A connected site.
#[derive(Debug, Clone)]
pub struct Site {
    pub domain: String,
    pub created_at: String,
    pub verified: bool,
}

/// The script's URL for a site of an account.
pub fn script_url(base_url: &str, account_id: &str, foreign_id: &str) -> String {
    format!(
        "{base_url}/__sim/mcjs/{account_id}-{}.js",
        super::world::subscriber_hash(foreign_id)
    )
}

/// A site as `GET /connected-sites/{id}` shows it.
pub fn json(base_url: &str, account_id: &str, foreign_id: &str, site: &Site) -> Value {
    let url = script_url(base_url, account_id, foreign_id);
    json!({
        "foreign_id": foreign_id,
        "store_id": foreign_id,
        "platform": "",
        "domain": site.domain,
        "site_script": {
            "url": url,
            "fragment": format!(
                "<script id=\"mcjs\">!function(c,h,i,m,p){{m=c.createElement(h),p=c.getElementsByTagName(h)[0],m.async=1,m.src=i,p.parentNode.insertBefore(m,p)}}(document,\"script\",\"{url}\");</script>"
            ),
        },
        "created_at": site.created_at,
        "updated_at": site.created_at,
        "_links": [],
    })
}

/// The body of `POST /connected-sites`: (foreign id, domain).
pub fn parse(body: &Value) -> Result<(String, String), SimError> {
    let field = |k: &str| match body.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.trim().to_owned()),
        _ => Err(SimError::invalid_resource(vec![(
            if k == "foreign_id" {
                "foreign_id"
            } else {
                "domain"
            },
            "This value should not be blank.".to_owned(),
        )])),
    };
    Ok((field("foreign_id")?, field("domain")?))
}
