//! What the lab loads and samples as the server: target-api (built in), another service's
//! command the lab starts, or a running process it attaches to; from the command line
//! (`--target-cmd`, `--url`, `--target-pid`), else the scenario's `[target]`.

use super::options::LabOptions;
use crate::error::LabError;
use crate::scenario::Scenario;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

/// The server of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetChoice {
    /// target-api with the scenario's flags.
    BuiltIn,
    /// A command the lab starts, watches and stops, with its whole process tree.
    Command(CommandTarget),
    /// A running process: sampled with its descendants, never stopped by the lab.
    Attach {
        /// Its PID.
        pid: u32,
        /// The URL to load.
        url: String,
    },
}

/// Another service's command (`{port}` not yet replaced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandTarget {
    /// Shell command line (`sh -c`).
    pub cmd: String,
    /// The URL to load.
    pub url: String,
    /// The URL that answers once it is ready.
    pub ready: String,
    /// Its `OTEL_SERVICE_NAME`.
    pub service: String,
    /// Its working directory.
    pub cwd: PathBuf,
}

impl CommandTarget {
    /// This target with `{port}` replaced by `port` everywhere.
    pub fn with_port(&self, port: u16) -> CommandTarget {
        let p = |s: &str| s.replace("{port}", &port.to_string());
        CommandTarget {
            cmd: p(&self.cmd),
            url: p(&self.url),
            ready: p(&self.ready),
            service: self.service.clone(),
            cwd: self.cwd.clone(),
        }
    }
}

impl TargetChoice {
    /// The server `opts` and `scenario` ask for; an error names the flag to fix.
    pub fn resolve(opts: &LabOptions, scenario: &Scenario) -> Result<TargetChoice, LabError> {
        let bad = |m: &str| Err(LabError::Target(m.to_string()));
        let url = opts.url.clone().or_else(|| scenario.target.url.clone());
        if let Some(u) = &url {
            check_url(u, "--url")?;
        }
        if let Some(pid) = opts.target_pid {
            if opts.target_cmd.is_some() {
                return bad(
                    "--target-pid attaches to a running process, --target-cmd starts one: give one of them",
                );
            }
            let Some(url) = url else {
                return bad(
                    "--target-pid needs --url: the URL to load, e.g. --url http://127.0.0.1:8080/",
                );
            };
            if !crate::sampler::alive(pid) {
                return Err(LabError::Target(format!(
                    "--target-pid {pid}: no such process (is it running, and in this PID namespace?)"
                )));
            }
            return Ok(TargetChoice::Attach { pid, url });
        }
        let cmd = opts
            .target_cmd
            .clone()
            .or_else(|| scenario.target.cmd.clone());
        match (cmd, url) {
            (Some(cmd), Some(url)) => {
                if cmd.trim().is_empty() {
                    return bad("--target-cmd is empty: give the command that starts the service");
                }
                let ready = opts
                    .ready_url
                    .clone()
                    .or_else(|| scenario.target.ready.clone())
                    .unwrap_or_else(|| url.clone());
                check_url(&ready, "--ready-url")?;
                let cwd = match (&opts.target_cmd, &scenario.dir) {
                    (None, Some(dir)) => dir.clone(),
                    _ => PathBuf::from("."),
                };
                let service = scenario
                    .target
                    .service
                    .clone()
                    .unwrap_or_else(|| scenario.name.clone());
                Ok(TargetChoice::Command(CommandTarget {
                    cmd,
                    url,
                    ready,
                    service,
                    cwd,
                }))
            }
            (Some(_), None) => bad(
                "--target-cmd needs --url: the URL to load, e.g. --url 'http://127.0.0.1:{port}/' ({port} is a free port the lab picks)",
            ),
            (None, Some(_)) => bad(
                "--url needs --target-cmd (the lab starts the service) or --target-pid (the lab attaches to it)",
            ),
            (None, None) if opts.ready_url.is_some() => bad("--ready-url goes with --target-cmd"),
            (None, None) => Ok(TargetChoice::BuiltIn),
        }
    }
}

/// The address and path of an `http://` URL (resolving its host).
pub fn http_addr(url: &str) -> Result<(SocketAddr, String), String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("{url:?} is not a URL ({e}); give e.g. http://127.0.0.1:8080/"))?;
    if uri.scheme_str() != Some("http") {
        return Err(format!(
            "{url:?}: only http:// URLs can be loaded by the lab (HTTP/1.1 or h2c)"
        ));
    }
    let Some(auth) = uri.authority() else {
        return Err(format!("{url:?} has no host"));
    };
    let port = auth.port_u16().unwrap_or(80);
    let host = auth.host().trim_start_matches('[').trim_end_matches(']');
    let addr = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("{url:?}: cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{url:?}: {host} has no address"))?;
    let path = uri
        .path_and_query()
        .map_or("/".to_string(), |p| p.as_str().to_string());
    Ok((addr, path))
}

/// Refuse a URL that is not `http://` or has no host (before the port is known).
fn check_url(url: &str, flag: &str) -> Result<(), LabError> {
    let with_port = url.replace("{port}", "1");
    match with_port.parse::<http::Uri>() {
        Ok(u) if u.scheme_str() == Some("http") && u.authority().is_some() => Ok(()),
        _ => Err(LabError::Target(format!(
            "{flag} {url:?}: give an http:// URL with a host, e.g. http://127.0.0.1:8080/path ({{port}} stands for a free port the lab picks)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> LabOptions {
        LabOptions::default()
    }

    #[test]
    fn flags_resolve_or_name_what_is_missing() {
        let s = Scenario::any_service();
        assert_eq!(
            TargetChoice::resolve(&opts(), &s).unwrap(),
            TargetChoice::BuiltIn
        );
        let mut o = opts();
        o.target_cmd = Some("python3 server.py --port {port}".into());
        let e = TargetChoice::resolve(&o, &s).unwrap_err().to_string();
        assert!(e.contains("--url"), "{e}");
        o.url = Some("http://127.0.0.1:{port}/work".into());
        let TargetChoice::Command(c) = TargetChoice::resolve(&o, &s).unwrap() else {
            panic!("not a command target");
        };
        assert_eq!(c.ready, c.url);
        let c = c.with_port(8123);
        assert_eq!(c.cmd, "python3 server.py --port 8123");
        assert_eq!(
            http_addr(&c.url).unwrap(),
            (([127, 0, 0, 1], 8123).into(), "/work".into())
        );
        o.url = Some("https://example.com/".into());
        let e = TargetChoice::resolve(&o, &s).unwrap_err().to_string();
        assert!(e.contains("http://"), "{e}");
        let mut o = opts();
        o.url = Some("http://127.0.0.1:1/".into());
        let e = TargetChoice::resolve(&o, &s).unwrap_err().to_string();
        assert!(
            e.contains("--target-cmd") && e.contains("--target-pid"),
            "{e}"
        );
        o.target_pid = Some(u32::MAX / 2);
        let e = TargetChoice::resolve(&o, &s).unwrap_err().to_string();
        assert!(e.contains("no such process"), "{e}");
        o.target_pid = Some(std::process::id());
        assert!(matches!(
            TargetChoice::resolve(&o, &s).unwrap(),
            TargetChoice::Attach { .. }
        ));
        assert!(http_addr("ftp://x/").unwrap_err().contains("http://"));
    }
}
