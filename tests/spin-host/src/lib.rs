//! An in-process `wasi:http` host (wasmtime 48) for the `aauth-spin` component.
//!
//! One [`Engine`] and [`Component`] per process (built and compiled once); every request
//! gets a fresh [`Store`] and instance, like Spin. The component's environment
//! (`wasi:cli/environment`) carries its configuration, and its outbound HTTP goes through
//! wasmtime-wasi-http's default client, so it can reach loopback servers in the test.
//! The host also provides Spin's `spin:variables/variables@3.0.0` from a map, and Spin's
//! `spin:key-value/key-value@3.0.0` and the `wasi:keyvalue@0.2.0-draft2` functions the
//! component uses (`store.open`, `bucket.list-keys`, `atomics.increment`,
//! `batch.delete-many`) from one in-memory [`KvBackend`] shared by every instance it is
//! given to, as Spin serves both interfaces from the same stores, for the component's
//! `spin` build ([`spin_runtime`], [`call_with`]). The component's wall clock is a [`GuestClock`], which tests move forward
//! by hand instead of sleeping.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wasmtime::component::{
    Accessor, Component, FutureReader, HasSelf, Linker, Resource, ResourceTable, StreamReader,
};
use wasmtime::{AsContextMut, Config, Engine, Store};
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
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

mod spin_key_value {
    // Spin's key-value interface as spin-sdk 7 imports it (its `wit/deps/spin-key-value@3.0.0`).
    wasmtime::component::bindgen!({
        inline: "
            package spin:key-value@3.0.0;
            interface key-value {
                resource store {
                    open: static async func(label: string) -> result<store, error>;
                    get: async func(key: string) -> result<option<list<u8>>, error>;
                    set: async func(key: string, value: list<u8>) -> result<_, error>;
                    delete: async func(key: string) -> result<_, error>;
                    exists: async func(key: string) -> result<bool, error>;
                    get-keys: async func() -> tuple<stream<string>, future<result<_, error>>>;
                }
                variant error {
                    store-table-full,
                    no-such-store,
                    access-denied,
                    other(string)
                }
            }
            world host {
                import key-value;
            }
        ",
        imports: { default: async | trappable },
        with: { "spin:key-value/key-value.store": super::KvStore },
    });
}

use spin_key_value::spin::key_value::key_value as spin_kv;

mod wasi_keyvalue {
    // The `wasi:keyvalue@0.2.0-draft2` functions the component imports (spin-sdk 7's
    // `wit/deps/wasi-keyvalue-2024-10-17`), synchronous as in that WIT.
    wasmtime::component::bindgen!({
        inline: "
            package wasi:keyvalue@0.2.0-draft2;
            interface store {
                variant error {
                    no-such-store,
                    access-denied,
                    other(string),
                }
                record key-response {
                    keys: list<string>,
                    cursor: option<string>,
                }
                resource bucket {
                    list-keys: func(cursor: option<string>) -> result<key-response, error>;
                }
                open: func(identifier: string) -> result<bucket, error>;
            }
            interface atomics {
                use store.{bucket, error};
                increment: func(bucket: borrow<bucket>, key: string, delta: s64)
                    -> result<s64, error>;
            }
            interface batch {
                use store.{bucket, error};
                delete-many: func(bucket: borrow<bucket>, keys: list<string>)
                    -> result<_, error>;
            }
            world host {
                import atomics;
                import batch;
            }
        ",
        imports: { default: trappable },
        with: { "wasi:keyvalue/store.bucket": super::KvBucket },
    });
}

use wasi_keyvalue::wasi::keyvalue::{atomics as wkv_atomics, batch as wkv_batch, store as wkv};

/// An in-memory key-value backend, shared by the instances it is given to (as a Spin
/// store outlives its instances), with call counters.
#[derive(Default)]
pub struct KvBackend {
    labels: Vec<String>,
    data: Mutex<HashMap<(String, String), Vec<u8>>>,
    /// Successful `open`s.
    pub opens: AtomicUsize,
    /// Refused `open`s (label not granted).
    pub refused: AtomicUsize,
    /// `get`s, and those that found a value.
    pub gets: AtomicUsize,
    /// `get`s that found a value.
    pub found: AtomicUsize,
    /// `set`s.
    pub sets: AtomicUsize,
    /// `wasi:keyvalue` `increment`s.
    pub increments: AtomicUsize,
    /// `wasi:keyvalue` `list-keys` calls.
    pub lists: AtomicUsize,
    /// `wasi:keyvalue` `delete-many` calls.
    pub delete_manys: AtomicUsize,
    /// Keys `delete-many` removed.
    pub deleted: AtomicUsize,
    /// When set, every `wasi:keyvalue` call on an open bucket fails with `other` (a backend
    /// outage after `open`).
    pub failing: AtomicBool,
}

impl KvBackend {
    /// A backend granting the stores `labels` (none: every `open` fails, as in a Spin
    /// application whose component lists no `key_value_stores`).
    pub fn new(labels: &[&str]) -> Arc<Self> {
        Arc::new(Self {
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            ..Self::default()
        })
    }

    /// The entries of store `label`, sorted by key.
    ///
    /// # Panics
    /// When the map's lock is poisoned.
    pub fn entries(&self, label: &str) -> Vec<(String, Vec<u8>)> {
        let mut v: Vec<_> = self
            .data
            .lock()
            .unwrap()
            .iter()
            .filter(|((l, _), _)| l == label)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect();
        v.sort();
        v
    }

    /// Writes `value` under `key` in store `label` (tests corrupt entries with it).
    ///
    /// # Panics
    /// When the map's lock is poisoned.
    pub fn insert(&self, label: &str, key: &str, value: Vec<u8>) {
        self.data
            .lock()
            .unwrap()
            .insert((label.to_owned(), key.to_owned()), value);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Vec<u8>>> {
        self.data
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// An open store: its label in the instance's [`KvBackend`].
pub struct KvStore {
    label: String,
}

/// An open `wasi:keyvalue` bucket: its label in the instance's [`KvBackend`].
pub struct KvBucket {
    label: String,
}

/// Marks where `spin:key-value` finds its data: the store's [`Host`].
struct SpinKv;

impl wasmtime::component::HasData for SpinKv {
    type Data<'a> = &'a mut Host;
}

impl spin_kv::Host for &mut Host {}

impl spin_kv::HostStore for &mut Host {
    async fn drop(&mut self, rep: Resource<KvStore>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

/// The backend and the label of `store`.
fn open_store<U>(
    accessor: &Accessor<U, SpinKv>,
    store: &Resource<KvStore>,
) -> wasmtime::Result<(Arc<KvBackend>, String)> {
    accessor.with(|mut view| {
        let host = view.get();
        let label = host.table.get(store)?.label.clone();
        Ok((Arc::clone(&host.kv), label))
    })
}

impl<U> spin_kv::HostStoreWithStore<U> for SpinKv {
    async fn open(
        accessor: &Accessor<U, Self>,
        label: String,
    ) -> wasmtime::Result<Result<Resource<KvStore>, spin_kv::Error>> {
        accessor.with(|mut view| {
            let host = view.get();
            if !host.kv.labels.contains(&label) {
                host.kv.refused.fetch_add(1, Ordering::SeqCst);
                return Ok(Err(spin_kv::Error::NoSuchStore));
            }
            host.kv.opens.fetch_add(1, Ordering::SeqCst);
            Ok(Ok(host.table.push(KvStore { label })?))
        })
    }

    async fn get(
        accessor: &Accessor<U, Self>,
        store: Resource<KvStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        let (kv, label) = open_store(accessor, &store)?;
        kv.gets.fetch_add(1, Ordering::SeqCst);
        let v = kv.lock().get(&(label, key)).cloned();
        if v.is_some() {
            kv.found.fetch_add(1, Ordering::SeqCst);
        }
        Ok(Ok(v))
    }

    async fn set(
        accessor: &Accessor<U, Self>,
        store: Resource<KvStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let (kv, label) = open_store(accessor, &store)?;
        kv.sets.fetch_add(1, Ordering::SeqCst);
        kv.lock().insert((label, key), value);
        Ok(Ok(()))
    }

    async fn delete(
        accessor: &Accessor<U, Self>,
        store: Resource<KvStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), spin_kv::Error>> {
        let (kv, label) = open_store(accessor, &store)?;
        kv.lock().remove(&(label, key));
        Ok(Ok(()))
    }

    async fn exists(
        accessor: &Accessor<U, Self>,
        store: Resource<KvStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, spin_kv::Error>> {
        let (kv, label) = open_store(accessor, &store)?;
        Ok(Ok(kv.lock().contains_key(&(label, key))))
    }

    async fn get_keys(
        accessor: &Accessor<U, Self>,
        store: Resource<KvStore>,
    ) -> wasmtime::Result<(
        StreamReader<String>,
        FutureReader<Result<(), spin_kv::Error>>,
    )> {
        let (kv, label) = open_store(accessor, &store)?;
        let keys: Vec<String> = kv
            .lock()
            .keys()
            .filter(|(l, _)| *l == label)
            .map(|(_, k)| k.clone())
            .collect();
        accessor.with(|mut view| {
            let stream = StreamReader::new(&mut view, keys)?;
            let done = FutureReader::new(&mut view, async {
                Ok::<_, wasmtime::Error>(Ok::<(), spin_kv::Error>(()))
            })?;
            Ok((stream, done))
        })
    }
}

/// `wasi:keyvalue` over the same [`KvBackend`] (Spin serves it from the same stores as
/// `spin:key-value`). Every operation takes the backend's one lock, so `increment` is atomic
/// as in Spin's SQLite (a transaction under a connection lock) and Redis (`INCRBY`) backends.
impl wkv::Host for Host {
    fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<KvBucket>, wkv::Error>> {
        if !self.kv.labels.contains(&identifier) {
            self.kv.refused.fetch_add(1, Ordering::SeqCst);
            return Ok(Err(wkv::Error::NoSuchStore));
        }
        self.kv.opens.fetch_add(1, Ordering::SeqCst);
        Ok(Ok(self.table.push(KvBucket { label: identifier })?))
    }
}

impl Host {
    /// The label of `bucket`, or the `other` error a failing backend answers.
    fn bucket(&self, bucket: &Resource<KvBucket>) -> wasmtime::Result<Result<String, wkv::Error>> {
        let label = self.table.get(bucket)?.label.clone();
        if self.kv.failing.load(Ordering::SeqCst) {
            return Ok(Err(wkv::Error::Other("backend unavailable".into())));
        }
        Ok(Ok(label))
    }
}

impl wkv::HostBucket for Host {
    fn list_keys(
        &mut self,
        bucket: Resource<KvBucket>,
        _cursor: Option<String>,
    ) -> wasmtime::Result<Result<wkv::KeyResponse, wkv::Error>> {
        self.kv.lists.fetch_add(1, Ordering::SeqCst);
        let label = match self.bucket(&bucket)? {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        // One page, no cursor: what Spin answers (it refuses a cursor).
        let keys = self
            .kv
            .lock()
            .keys()
            .filter(|(l, _)| *l == label)
            .map(|(_, k)| k.clone())
            .collect();
        Ok(Ok(wkv::KeyResponse { keys, cursor: None }))
    }

    fn drop(&mut self, rep: Resource<KvBucket>) -> wasmtime::Result<()> {
        self.table.delete(rep)?;
        Ok(())
    }
}

impl wkv_atomics::Host for Host {
    fn increment(
        &mut self,
        bucket: Resource<KvBucket>,
        key: String,
        delta: i64,
    ) -> wasmtime::Result<Result<i64, wkv::Error>> {
        self.kv.increments.fetch_add(1, Ordering::SeqCst);
        let label = match self.bucket(&bucket)? {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        // Read, add and write under the one lock; a missing key counts as 0; the value is
        // the i64's little-endian bytes, as Spin's SQLite backend stores it.
        let mut data = self.kv.lock();
        let entry = data
            .entry((label, key))
            .or_insert_with(|| 0i64.to_le_bytes().to_vec());
        let Ok(bytes) = <[u8; 8]>::try_from(entry.as_slice()) else {
            return Ok(Err(wkv::Error::Other("not a counter".into())));
        };
        let Some(next) = i64::from_le_bytes(bytes).checked_add(delta) else {
            return Ok(Err(wkv::Error::Other("overflow".into())));
        };
        *entry = next.to_le_bytes().to_vec();
        Ok(Ok(next))
    }
}

impl wkv_batch::Host for Host {
    fn delete_many(
        &mut self,
        bucket: Resource<KvBucket>,
        keys: Vec<String>,
    ) -> wasmtime::Result<Result<(), wkv::Error>> {
        self.kv.delete_manys.fetch_add(1, Ordering::SeqCst);
        let label = match self.bucket(&bucket)? {
            Ok(l) => l,
            Err(e) => return Ok(Err(e)),
        };
        let mut data = self.kv.lock();
        for key in keys {
            if data.remove(&(label.clone(), key)).is_some() {
                self.kv.deleted.fetch_add(1, Ordering::SeqCst);
            }
        }
        Ok(Ok(()))
    }
}

/// The wall clock the component reads (`wasi:clocks/wall-clock`, where its `now()` comes
/// from): the host's, moved forward by an offset a test sets, shared by every instance it
/// is given to. A test advances it past a cache lifetime instead of sleeping through it.
#[derive(Clone, Debug, Default)]
pub struct GuestClock {
    offset_secs: Arc<AtomicU64>,
}

impl GuestClock {
    /// Moves the clock forward by `by` (whole seconds).
    pub fn advance(&self, by: Duration) {
        self.offset_secs.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// The time the clock shows, since the Unix epoch.
    pub fn now(&self) -> Duration {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            + Duration::from_secs(self.offset_secs.load(Ordering::SeqCst))
    }
}

impl HostWallClock for GuestClock {
    fn resolution(&self) -> Duration {
        wasmtime_wasi::clocks::WallClock.resolution()
    }

    fn now(&self) -> Duration {
        Self::now(self)
    }
}

/// Per-store host state.
pub struct Host {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    vars: Arc<Vec<(String, String)>>,
    kv: Arc<KvBackend>,
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

/// Builds the `spin` variant (what `spin.toml` builds: Spin variables and the key-value
/// cache) into its own target directory, so it never overwrites the default component
/// other tests load.
///
/// # Errors
/// When cargo fails.
pub fn build_spin_component() -> Result<PathBuf> {
    cargo_build(&["--features", "spin"], Some("spin"))
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

/// The process-wide runtime of the `spin` build.
///
/// # Panics
/// When the component cannot be built or linked.
pub fn spin_runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        build_spin_component()
            .and_then(init)
            .expect("spin component runtime")
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
    spin_kv::add_to_linker::<Host, SpinKv>(&mut linker, |h| h)?;
    wkv::add_to_linker::<Host, HasSelf<Host>>(&mut linker, |h| h)?;
    wkv_atomics::add_to_linker::<Host, HasSelf<Host>>(&mut linker, |h| h)?;
    wkv_batch::add_to_linker::<Host, HasSelf<Host>>(&mut linker, |h| h)?;
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
    call_with(
        runtime(),
        env,
        Arc::default(),
        Arc::default(),
        &GuestClock::default(),
        req,
    )
    .await
}

/// Handles one request with `rt`'s component in a fresh instance, with `env` as its
/// environment, `vars` as its Spin variables, `kv` behind its key-value stores and `clock`
/// as its wall clock.
///
/// # Errors
/// Instantiation failures and guest traps.
pub async fn call_with(
    rt: &Runtime,
    env: &[(String, String)],
    vars: Arc<Vec<(String, String)>>,
    kv: Arc<KvBackend>,
    clock: &GuestClock,
    req: http::Request<WasiBody>,
) -> Result<http::Response<Bytes>> {
    let mut wasi = WasiCtxBuilder::new();
    wasi.inherit_stderr();
    wasi.wall_clock(clock.clone());
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
            kv,
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
    serve_with(
        runtime(),
        env,
        Vec::new(),
        KvBackend::new(&[]),
        GuestClock::default(),
        listener,
    )
    .await
}

/// Serves `rt`'s component with `env`, Spin variables `vars`, key-value backend `kv` and
/// wall clock `clock` (both shared by all its instances); returns the address.
///
/// # Errors
/// When the port cannot be bound.
pub async fn serve_with(
    rt: &'static Runtime,
    env: Vec<(String, String)>,
    vars: Vec<(String, String)>,
    kv: Arc<KvBackend>,
    clock: GuestClock,
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
            let kv = Arc::clone(&kv);
            let clock = clock.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let env = Arc::clone(&env);
                    let vars = Arc::clone(&vars);
                    let kv = Arc::clone(&kv);
                    let clock = clock.clone();
                    async move {
                        let req =
                            req.map(|b| b.map_err(wasmtime_wasi_http::Error::from).boxed_unsync());
                        let resp = match call_with(rt, &env, vars, kv, &clock, req).await {
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
