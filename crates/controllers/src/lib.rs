//! The control loops of k3rs. Every loop talks to the API through a `kube::Client` built on
//! the API server's in-process router, so it sees exactly what any client sees (defaulting,
//! admission, validation, watch semantics), without a socket.
//!
//! **Architecture invariant:** loops are driven by watches (kube-runtime watchers and
//! reflectors), never by periodic relists; they write only through the API.

pub mod leader;

/// What the loops are started with.
#[derive(Clone)]
pub struct Context {
    /// A client over the in-process API router.
    pub client: kube::Client,
    /// This server's identity (lease holder name).
    pub identity: String,
}

/// The name of the Lease the controller loops are elected through.
pub const LEASE_NAME: &str = "k3rs-controllers";

/// Start every control loop; returns their tasks. Each loop module adds itself here.
fn start_loops(ctx: &Context) -> Vec<tokio::task::JoinHandle<()>> {
    let _ = ctx;
    Vec::new()
}

/// Campaign for leadership and run the loops while leading; runs until the task is dropped.
pub async fn run(ctx: Context) {
    let mut loops: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    loop {
        let leading = match leader::try_acquire(&ctx.client, LEASE_NAME, &ctx.identity).await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("leader election: {e}");
                false
            }
        };
        if leading && loops.is_empty() {
            tracing::info!(identity = %ctx.identity, "became the controller leader");
            loops = start_loops(&ctx);
        } else if !leading && !loops.is_empty() {
            tracing::warn!("lost controller leadership; stopping the loops");
            for l in loops.drain(..) {
                l.abort();
            }
        }
        tokio::time::sleep(leader::RENEW_PERIOD).await;
    }
}
