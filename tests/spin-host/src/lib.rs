//! An in-process `wasi:http` host (wasmtime 48) for the `aauth-spin` component.
//!
//! One [`Engine`] and [`Component`] per process (built and compiled once); every request
//! gets a fresh [`Store`] and instance, like Spin. The component's environment
//! (`wasi:cli/environment`) carries its configuration, and its outbound HTTP goes through
//! wasmtime-wasi-http's default client, so it can reach loopback servers in the test.
//! The host also provides Spin's `spin:variables/variables@3.0.0` from a map, for the
//! component's `spin-variables` build ([`spin_variables_runtime`], [`call_with`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{AsContextMut, Config, Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::handler::{Prepared, ProxyPre};
use wasmtime_wasi_http::{WasiBody, WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

mod spin_variables {
    // Spin's variables interface (spin-sdk 7's `spin:variables@3.0.0`), as Spin serves it.
    wasmtime::component::bindgen!({
        inline: "
            package spin:variables@3.0.0;
            interface variables {
                get: async func(name: string) -> result<string, error>;
                variant error {
                    invalid-name(string),
                    undefined(string),
                    provider(string),
                    other(string),
                }
            }
            world host {
                import variables;
            }
        ",
        imports: { default: async },
    });
}

use spin_variables::spin::variables::variables as spin_vars;

/// Per-store host state.
pub struct Host {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    vars: Arc<Vec<(String, String)>>,
}

/// Marks where `spin:variables` finds its data: the store's [`Host`].
struct SpinVars;

impl wasmtime::component::HasData for SpinVars {
    type Data<'a> = &'a mut Host;
}

impl spin_vars::Host for &mut Host {}

impl<U> spin_vars::HostWithStore<U> for SpinVars {
    async fn get(
        store: &wasmtime::component::Accessor<U, Self>,
        name: String,
    ) -> Result<String, spin_vars::Error> {
        store.with(|mut view| {
            view.get()
                .vars
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .ok_or(spin_vars::Error::Undefined(name))
        })
    }
}

impl WasiView for Host {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Host {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: Default::default(),
        }
    }
}

/// The engine, the pre-instantiated component and how long building them took.
pub struct Runtime {
    engine: Engine,
    pre: ProxyPre<Host>,
    /// Size of the component file in bytes.
    pub component_bytes: u64,
    /// Compile + link time of the component.
    pub compile_time: Duration,
}

/// Builds the component with cargo (same `CARGO_TARGET_DIR`) and returns its path;
/// `AAUTH_SPIN_WASM` names a prebuilt component instead.
///
/// # Errors
/// When cargo fails.
pub fn build_component() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("AAUTH_SPIN_WASM") {
        return Ok(PathBuf::from(path));
    }
    cargo_build(&[], None)
}

/// Builds the `spin-variables` variant (what `spin.toml` builds) into its own target
/// directory, so it never overwrites the default component other tests load.
///
/// # Errors
/// When cargo fails.
pub fn build_spin_variables_component() -> Result<PathBuf> {
    cargo_build(&["--features", "spin-variables"], Some("spin-variables"))
}

fn cargo_build(extra: &[&str], subdir: Option<&str>) -> Result<PathBuf> {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let manifest = here.join("../../hosts/spin/Cargo.toml");
    let mut target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| here.join("../../hosts/spin/target"), PathBuf::from);
    if let Some(d) = subdir {
        target = target.join(d);
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--target", "wasm32-wasip2", "--release"])
        .args(extra)
        .arg("--target-dir")
        .arg(&target)
        .arg("--manifest-path")
        .arg(&manifest)
        .status()
        .context("running cargo build for the component")?;
    if !status.success() {
        return Err(anyhow!("component build failed"));
    }
    Ok(target.join("wasm32-wasip2/release/aauth_spin.wasm"))
}

/// The process-wide runtime (first call builds and compiles the component).
///
/// # Panics
/// When the component cannot be built or linked.
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| build_component().and_then(init).expect("component runtime"))
}

/// The process-wide runtime of the `spin-variables` build.
///
/// # Panics
/// When the component cannot be built or linked.
pub fn spin_variables_runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        build_spin_variables_component()
            .and_then(init)
            .expect("spin-variables component runtime")
    })
}

fn init(path: PathBuf) -> Result<Runtime> {
    let component_bytes = std::fs::metadata(&path)?.len();
    let start = Instant::now();
    let mut config = Config::new();
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, &path)?;
    let mut linker = Linker::<Host>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    spin_vars::add_to_linker::<Host, SpinVars>(&mut linker, |h| h)?;
    let pre = ProxyPre::P3(wasmtime_wasi_http::p3::bindings::ServicePre::new(
        linker.instantiate_pre(&component)?,
    )?);
    Ok(Runtime {
        engine,
        pre,
        component_bytes,
        compile_time: start.elapsed(),
    })
}

/// Handles one request in a fresh instance with `env` as its environment.
///
/// # Errors
/// Instantiation failures and guest traps.
pub async fn call(
    env: &[(String, String)],
    req: http::Request<WasiBody>,
) -> Result<http::Response<Bytes>> {
    call_with(runtime(), env, Arc::default(), req).await
}

/// Handles one request with `rt`'s component in a fresh instance, with `env` as its
/// environment and `vars` as its Spin variables.
///
/// # Errors
/// Instantiation failures and guest traps.
pub async fn call_with(
    rt: &Runtime,
    env: &[(String, String)],
    vars: Arc<Vec<(String, String)>>,
    req: http::Request<WasiBody>,
) -> Result<http::Response<Bytes>> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stderr();
    for (k, v) in env {
        wasi.env(k, v);
    }
    let mut store = Store::new(
        &rt.engine,
        Host {
            wasi: wasi.build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            vars,
        },
    );
    let proxy = rt.pre.instantiate_async(&mut store).await?;
    let (tx, rx) = futures::channel::oneshot::channel();
    let (done_tx, done_rx) = futures::channel::oneshot::channel::<()>();
    let prepared = Prepared::new(store.as_context_mut(), &proxy, req, Host::http, tx)?;
    // p3: the guest streams the body after `handle` returns, so the concurrent run must
    // stay alive until the body has been collected (PLATFORM §4.4).
    let collect = async move {
        let resp = rx.await.map_err(|_| anyhow!("no response"))??;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| anyhow!("{e}"))?.to_bytes();
        let _ = done_tx.send(());
        Ok::<_, anyhow::Error>(http::Response::from_parts(parts, body))
    };
    let run = store.run_concurrent(async move |s| {
        let r = prepared.run(s, std::future::pending()).await;
        let _ = done_rx.await;
        r
    });
    let (ran, resp) = tokio::join!(run, collect);
    ran??;
    resp
}

/// Serves the component on a fresh loopback port with `env`; returns the address.
///
/// # Errors
/// When the port cannot be bound.
pub async fn serve(env: Vec<(String, String)>, listener: TcpListener) -> Result<SocketAddr> {
    serve_with(runtime(), env, Vec::new(), listener).await
}

/// Serves `rt`'s component with `env` and Spin variables `vars`; returns the address.
///
/// # Errors
/// When the port cannot be bound.
pub async fn serve_with(
    rt: &'static Runtime,
    env: Vec<(String, String)>,
    vars: Vec<(String, String)>,
    listener: TcpListener,
) -> Result<SocketAddr> {
    let addr = listener.local_addr()?;
    let vars = Arc::new(vars);
    let env = Arc::new(env);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let env = Arc::clone(&env);
            let vars = Arc::clone(&vars);
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let env = Arc::clone(&env);
                    let vars = Arc::clone(&vars);
                    async move {
                        let req =
                            req.map(|b| b.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
                        let resp = match call_with(rt, &env, vars, req).await {
                            Ok(r) => r.map(Full::new),
                            Err(e) => {
                                eprintln!("host error: {e:#}");
                                let mut r = http::Response::new(Full::new(Bytes::from(format!(
                                    "host error: {e:#}"
                                ))));
                                *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                                r
                            }
                        };
                        Ok::<_, Infallible>(resp)
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}
