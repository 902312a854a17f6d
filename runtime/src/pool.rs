//! Warm instances of one model component, shared by concurrent requests.
//!
//! An instance parses its model on first use (milliseconds), so the pool warms instances
//! before handing them out and keeps them between requests. It starts with one and grows
//! on demand; [`InstancePool::shrink_idle`] drops the instances nobody used for a while,
//! down to none, so an idle model costs its data and nothing else (scale to zero), and the
//! next request pays one instantiation and model parse. An instance that trapped is never
//! reused: dropping its checkout discards it, and the next checkout that finds no idle
//! instance warms a fresh one.
//!
//! Instances are called as futures: the serving path runs a guest on its own task, with
//! no blocking thread in between.

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::component::ModelComponent;
use crate::host::GuestEvent;
use crate::instance::ModelInstance;

/// A pool of warm instances of one component.
pub struct InstancePool {
    component: ModelComponent,
    /// Idle instances, each with when it was last given back (most recent last).
    idle: Mutex<Vec<(ModelInstance, Instant)>>,
    /// Idle instances kept at most; more may exist while busy.
    size: usize,
    busy: AtomicUsize,
    replaced: AtomicU64,
}

impl InstancePool {
    /// A pool keeping up to `size` idle instances (at least one). One is created now,
    /// which proves the component instantiates and parses its model; the others when
    /// concurrent requests need them.
    pub async fn new(component: ModelComponent, size: usize) -> wasmtime::Result<Arc<Self>> {
        let size = size.max(1);
        let first = warm(&component).await?;
        Ok(Arc::new(Self {
            component,
            idle: Mutex::new(vec![(first, Instant::now())]),
            size,
            busy: AtomicUsize::new(0),
            replaced: AtomicU64::new(0),
        }))
    }

    /// An instance for one request: an idle one, or a new warm one when all are busy.
    pub async fn checkout(self: &Arc<Self>) -> wasmtime::Result<PooledInstance> {
        let idle = self.idle.lock().expect("pool lock").pop();
        let instance = match idle {
            Some((instance, _)) => instance,
            None => warm(&self.component).await?,
        };
        self.busy.fetch_add(1, Ordering::Relaxed);
        Ok(PooledInstance {
            pool: Arc::clone(self),
            instance: Some(instance),
        })
    }

    /// Instances waiting for a request.
    pub fn idle(&self) -> usize {
        self.idle.lock().expect("pool lock").len()
    }

    /// Instances checked out now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }

    /// Instances discarded after a trap since the pool was created (each replaced by the
    /// next checkout that needs one).
    pub fn replaced(&self) -> u64 {
        self.replaced.load(Ordering::Relaxed)
    }

    /// Takes what idle instances reported and nobody collected yet (their load reports,
    /// after warming), so those are not handed to the next request as its own.
    pub fn take_idle_events(&self) -> Vec<GuestEvent> {
        let mut idle = self.idle.lock().expect("pool lock");
        idle.iter_mut()
            .flat_map(|(i, _)| i.take_events().0)
            .collect()
    }

    /// Drops the idle instances not used for `idle_for` or longer (all of them, if need
    /// be) and says how many went. Their memory goes back to the system.
    pub fn shrink_idle(&self, idle_for: Duration) -> usize {
        let now = Instant::now();
        let stale: Vec<ModelInstance> = {
            let mut idle = self.idle.lock().expect("pool lock");
            // Given back in order, so the stale ones are a prefix.
            let fresh = idle.partition_point(|(_, since)| now.duration_since(*since) >= idle_for);
            idle.drain(..fresh).map(|(instance, _)| instance).collect()
        };
        stale.len()
    }

    /// The idle instances the pool keeps (its configured size).
    pub fn size(&self) -> usize {
        self.size
    }

    /// Instances alive now, idle or busy: below [`size`](Self::size) after a trapped
    /// instance went (until a checkout warms another) or when idle ones were shed, above
    /// it while extra ones serve a burst.
    pub fn live(&self) -> usize {
        self.idle() + self.busy()
    }

    fn give_back(&self, instance: ModelInstance) {
        self.busy.fetch_sub(1, Ordering::Relaxed);
        if instance.is_poisoned() {
            // Warming a replacement is async and this is a drop: the next checkout that
            // finds no idle instance warms one.
            self.replaced.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut idle = self.idle.lock().expect("pool lock");
        if idle.len() < self.size {
            idle.push((instance, Instant::now()));
        }
    }
}

/// A new instance whose model is already parsed (`info()` loads it). What the guest
/// reported while loading stays queued: the first `take_events` after checkout hands it out.
async fn warm(component: &ModelComponent) -> wasmtime::Result<ModelInstance> {
    let mut instance = component.instantiate().await?;
    instance
        .warm_up()
        .await
        .map_err(|e| wasmtime::format_err!("warming an instance: its info() failed: {e}"))?;
    Ok(instance)
}

/// An instance checked out of a pool; it goes back (or is replaced) when dropped.
pub struct PooledInstance {
    pool: Arc<InstancePool>,
    instance: Option<ModelInstance>,
}

impl Deref for PooledInstance {
    type Target = ModelInstance;

    fn deref(&self) -> &ModelInstance {
        self.instance.as_ref().expect("present until dropped")
    }
}

impl DerefMut for PooledInstance {
    fn deref_mut(&mut self) -> &mut ModelInstance {
        self.instance.as_mut().expect("present until dropped")
    }
}

impl Drop for PooledInstance {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            self.pool.give_back(instance);
        }
    }
}
