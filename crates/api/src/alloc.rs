//! Service ClusterIP and NodePort allocation (pure bitmaps), and the CIDR type they use.

use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network such as `10.43.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Cidr {
    /// The network address (host bits zero).
    pub network: Ipv4Addr,
    /// The prefix length (0-32).
    pub prefix: u8,
}

impl Ipv4Cidr {
    /// Number of addresses in the network.
    pub fn size(&self) -> u64 {
        1u64 << (32 - u32::from(self.prefix))
    }
    /// The address at `offset` from the network address, if inside.
    pub fn nth(&self, offset: u64) -> Option<Ipv4Addr> {
        (offset < self.size())
            .then(|| Ipv4Addr::from(u32::from(self.network).wrapping_add(offset as u32)))
    }
    /// Whether `ip` is inside the network.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        };
        u32::from(ip) & mask == u32::from(self.network)
    }
    /// Offset of `ip` from the network address, if inside.
    pub fn offset_of(&self, ip: Ipv4Addr) -> Option<u64> {
        self.contains(ip)
            .then(|| u64::from(u32::from(ip) - u32::from(self.network)))
    }
}

impl std::fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

impl FromStr for Ipv4Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("invalid CIDR {s:?}: expected ADDRESS/PREFIX"))?;
        let addr: Ipv4Addr = addr
            .parse()
            .map_err(|_| format!("invalid CIDR {s:?}: {addr:?} is not an IPv4 address"))?;
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= 32)
            .ok_or_else(|| format!("invalid CIDR {s:?}: prefix must be 0-32"))?;
        let mask = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        };
        Ok(Self {
            network: Ipv4Addr::from(u32::from(addr) & mask),
            prefix,
        })
    }
}

/// Why an allocation of a specific value failed. Messages are upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AllocError {
    /// The value is outside the allocator's range; the string is the full upstream message.
    #[error("{0}")]
    OutOfRange(String),
    /// The value is already in use; the string names the thing (`IP` or `port`).
    #[error("provided {0} is already allocated")]
    AlreadyAllocated(&'static str),
}

/// A fixed-size bitmap with a moving cursor for round-robin allocation.
#[derive(Clone, Debug)]
struct Bitmap {
    words: Vec<u64>,
    len: u64,
    used: u64,
    cursor: u64,
}

impl Bitmap {
    fn new(len: u64) -> Self {
        Self {
            words: vec![0; len.div_ceil(64) as usize],
            len,
            used: 0,
            cursor: 0,
        }
    }
    fn get(&self, i: u64) -> bool {
        self.words[(i / 64) as usize] & (1 << (i % 64)) != 0
    }
    /// Sets bit `i`; false when it was already set.
    fn set(&mut self, i: u64) -> bool {
        if self.get(i) {
            return false;
        }
        self.words[(i / 64) as usize] |= 1 << (i % 64);
        self.used += 1;
        true
    }
    fn clear(&mut self, i: u64) {
        if self.get(i) {
            self.words[(i / 64) as usize] &= !(1 << (i % 64));
            self.used -= 1;
        }
    }
    /// The first free index at or after the cursor (wrapping), which is then taken.
    fn take_next(&mut self) -> Option<u64> {
        if self.used >= self.len {
            return None;
        }
        let mut step = 0;
        while step < self.len {
            let i = (self.cursor + step) % self.len;
            // Skip whole full words quickly.
            if i.is_multiple_of(64)
                && i + 64 <= self.len
                && self.words[(i / 64) as usize] == u64::MAX
            {
                step += 64;
                continue;
            }
            if self.set(i) {
                self.cursor = (i + 1) % self.len;
                return Some(i);
            }
            step += 1;
        }
        None
    }
}

/// Allocates Service ClusterIPs from a CIDR. The network address and the last address
/// (broadcast) are never handed out, as upstream's range allocator does.
#[derive(Clone, Debug)]
pub struct IpAllocator {
    cidr: Ipv4Cidr,
    /// Offset (from the network address) of the first allocatable address.
    base: u64,
    bits: Bitmap,
}

impl IpAllocator {
    /// An empty allocator over `cidr`.
    pub fn new(cidr: Ipv4Cidr) -> Self {
        let size = cidr.size();
        let (base, len) = if size > 2 { (1, size - 2) } else { (0, size) };
        Self {
            cidr,
            base,
            bits: Bitmap::new(len),
        }
    }
    /// The range this allocator serves.
    pub fn cidr(&self) -> Ipv4Cidr {
        self.cidr
    }
    /// The first usable address (`10.43.0.1` for `10.43.0.0/16`), by convention the
    /// ClusterIP of the `kubernetes` Service. `None` only for an empty range.
    pub fn first_host(&self) -> Option<Ipv4Addr> {
        if self.bits.len == 0 {
            None
        } else {
            self.cidr.nth(self.base)
        }
    }
    /// Number of allocatable addresses.
    pub fn capacity(&self) -> u64 {
        self.bits.len
    }
    /// Number of addresses in use.
    pub fn used(&self) -> u64 {
        self.bits.used
    }
    fn index(&self, ip: Ipv4Addr) -> Result<u64, AllocError> {
        self.cidr
            .offset_of(ip)
            .and_then(|o| o.checked_sub(self.base))
            .filter(|i| *i < self.bits.len)
            .ok_or_else(|| {
                AllocError::OutOfRange(format!(
                    "the provided IP ({ip}) is not in the valid range. The range of valid IPs is {}",
                    self.cidr
                ))
            })
    }
    /// Reserve a specific address (a user-chosen ClusterIP, or rebuilding state at startup).
    pub fn allocate(&mut self, ip: Ipv4Addr) -> Result<(), AllocError> {
        let i = self.index(ip)?;
        if self.bits.set(i) {
            Ok(())
        } else {
            Err(AllocError::AlreadyAllocated("IP"))
        }
    }
    /// Take the next free address after the last one handed out (wrapping); `None` when full.
    pub fn allocate_next(&mut self) -> Option<Ipv4Addr> {
        let i = self.bits.take_next()?;
        self.cidr.nth(self.base + i)
    }
    /// Return an address to the pool; addresses outside the range or not allocated are ignored.
    pub fn release(&mut self, ip: Ipv4Addr) {
        if let Ok(i) = self.index(ip) {
            self.bits.clear(i);
        }
    }
    /// Whether `ip` is currently allocated.
    pub fn is_allocated(&self, ip: Ipv4Addr) -> bool {
        self.index(ip).is_ok_and(|i| self.bits.get(i))
    }
}

/// Allocates NodePorts from an inclusive port range such as 30000-32767.
#[derive(Clone, Debug)]
pub struct PortAllocator {
    lo: u16,
    hi: u16,
    bits: Bitmap,
}

impl PortAllocator {
    /// An empty allocator over `lo..=hi` (an empty range when `hi < lo`).
    pub fn new(lo: u16, hi: u16) -> Self {
        let len = if hi >= lo { u64::from(hi - lo) + 1 } else { 0 };
        Self {
            lo,
            hi,
            bits: Bitmap::new(len),
        }
    }
    /// The range as upstream prints it: `30000-32767`.
    pub fn range(&self) -> String {
        format!("{}-{}", self.lo, self.hi)
    }
    /// Number of ports in use.
    pub fn used(&self) -> u64 {
        self.bits.used
    }
    fn index(&self, port: u16) -> Result<u64, AllocError> {
        if (self.lo..=self.hi).contains(&port) {
            Ok(u64::from(port - self.lo))
        } else {
            Err(AllocError::OutOfRange(format!(
                "provided port is not in the valid range. The range of valid ports is {}",
                self.range()
            )))
        }
    }
    /// Reserve a specific port.
    pub fn allocate(&mut self, port: u16) -> Result<(), AllocError> {
        let i = self.index(port)?;
        if self.bits.set(i) {
            Ok(())
        } else {
            Err(AllocError::AlreadyAllocated("port"))
        }
    }
    /// Take the next free port after the last one handed out (wrapping); `None` when full.
    pub fn allocate_next(&mut self) -> Option<u16> {
        let i = self.bits.take_next()?;
        u16::try_from(u64::from(self.lo) + i).ok()
    }
    /// Return a port to the pool; ports outside the range or not allocated are ignored.
    pub fn release(&mut self, port: u16) {
        if let Ok(i) = self.index(port) {
            self.bits.clear(i);
        }
    }
    /// Whether `port` is currently allocated.
    pub fn is_allocated(&self, port: u16) -> bool {
        self.index(port).is_ok_and(|i| self.bits.get(i))
    }
}

#[cfg(test)]
mod tests;
