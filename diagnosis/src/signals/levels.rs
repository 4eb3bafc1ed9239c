//! CPU levels several signals read: where a process counts as saturated, busy, or with room
//! to spare.

/// CPU utilisation (0–1 of capacity) at which a side counts as saturated: 1 s samples of a
/// fully busy process read 90–100% with sampling jitter and brief idle gaps; 85% leaves room.
pub const CPU_SATURATED: f64 = 0.85;
/// Below this a side clearly has CPU headroom (used to grade confidence).
pub const CPU_HEADROOM: f64 = 0.60;
/// A server whose requests queue decides CPU vs pool/I/O here: waiting on a pool or on I/O
/// costs almost no CPU (a pool-bound server reads a few percent), while a CPU-bound server
/// on a shared machine may read only 70–85% because other processes take the rest.
pub const CPU_BUSY: f64 = 0.60;
/// A server using at least this share of its CPU while the whole machine is saturated
/// (≥ [`CPU_SATURATED`]) is short of CPU: it competes with other processes for the cores it
/// may use. A pool-bound server stays far below it.
pub const CPU_CONTENDED: f64 = 0.30;
/// Share of the machine's CPUs that processes other than the lab's (client, server, the
/// observer when it samples itself) may use before they count as crowding it: a quarter of
/// the machine is half a core on 2 CPUs, far above an idle desktop's background.
pub const OTHERS_CROWD: f64 = 0.25;
