import FlockGuestKit
import Glibc

/// Applies a validated identity to the running guest, in the order the protocol fixes:
/// entropy first (so nothing after it, including the app, draws from the parent's RNG state),
/// then the clock, the hostname, the network, and last the identity file the app reads.
///
/// The same agent runs in the busybox image and in a systemd distribution (Debian): each step
/// uses what the guest has (iproute2's `ip` or busybox's, `/etc/hostname` when there is one, a
/// running time daemon) and falls back to the plain system call otherwise.
///
/// `/etc/machine-id` is left alone, on purpose: a clone keeps its parent's. The id is read once
/// and kept by the processes that use it, so rewriting the file under a running system changes
/// nothing for them and splits the machine in two: systemd (PID 1) and every `sd_id128_get_machine`
/// caller cache it, journald keeps writing under `/var/log/journal/<old id>/` with the old
/// `_MACHINE_ID`, dbus-daemon answers with the id it read at start, and networkd's DHCP DUID and
/// IPv6 addresses derived from it stay the parent's. systemd only supports setting it before it
/// is first read, at first boot (`systemd-machine-id-setup`, machine-id(5)), which a restored
/// clone is long past. An application that needs a per-clone id uses `FLOCK_CLONE_ID` (see
/// `CloneHooks`); what must differ per machine regardless (SSH host keys, say) a clone hook regenerates.
enum IdentityApplier {
    /// `_IOW('R', 0x03, int[2])` and `_IO('R', 0x07)` from <linux/random.h>.
    static let rndAddEntropy: UInt = 0x4008_5203
    static let rndReseedCRNG: UInt = 0x5207
    static let hostnameFile = "/etc/hostname"
    /// The time daemons Debian ships, restarted after the clock step when they run.
    static let timeDaemons = ["systemd-timesyncd.service", "chrony.service"]

    /// Returns the names of the steps applied, or the first failure.
    static func apply(_ request: IdentityRequest) -> Result<[String], ValidationError> {
        var applied: [String] = []
        if let failure = addEntropy(request.entropy) { return .failure(ValidationError("entropy: " + failure)) }
        applied.append("entropy")
        Log.debug("identity step: entropy")
        if let failure = setClock(request.timeUnixNs) { return .failure(ValidationError("clock: " + failure)) }
        applied.append("clock")
        Log.debug("identity step: clock")
        tellTimeDaemons()
        Log.debug("identity step: time daemons")
        if let failure = setHostname(request.hostname) { return .failure(failure) }
        applied.append("hostname")
        Log.debug("identity step: hostname")
        if let network = request.network {
            if let failure = NetworkSetup.configure(network) { return .failure(ValidationError("network: " + failure)) }
            applied.append("network")
            Log.debug("identity step: network")
        }
        let file = IdentityFile(cloneID: request.cloneID, generation: request.generation, hostname: request.hostname)
        guard file.save() else {
            let why = GuestHost.errnoText()
            return .failure(ValidationError("identity file: cannot write \(IdentityFile.path) (\(why))"))
        }
        Log.debug("identity step: identity file")
        return .success(applied)
    }

    /// Mixes the host's bytes into the input pool, credits them, and forces the CRNG to reseed
    /// so clones that share the parent's RNG state diverge immediately.
    private static func addEntropy(_ entropy: [UInt8]) -> String? {
        let fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return "cannot open /dev/urandom (\(GuestHost.errnoText()))" }
        defer { close(fd) }
        // struct rand_pool_info { int entropy_count; int buf_size; __u32 buf[]; }
        let header = 2 * MemoryLayout<Int32>.size
        let raw = UnsafeMutableRawPointer.allocate(byteCount: header + entropy.count, alignment: 8)
        defer { raw.deallocate() }
        raw.storeBytes(of: Int32(clamping: entropy.count * 8), as: Int32.self)
        raw.storeBytes(of: Int32(clamping: entropy.count), toByteOffset: 4, as: Int32.self)
        entropy.withUnsafeBytes { bytes in
            if let base = bytes.baseAddress { (raw + header).copyMemory(from: base, byteCount: bytes.count) }
        }
        guard ioctl(fd, rndAddEntropy, raw) == 0 else { return "RNDADDENTROPY failed (\(GuestHost.errnoText()))" }
        guard ioctl(fd, rndReseedCRNG) == 0 else { return "RNDRESEEDCRNG failed (\(GuestHost.errnoText()))" }
        return nil
    }

    private static func setClock(_ unixNs: Int64) -> String? {
        var spec = timespec(tv_sec: Int(unixNs / 1_000_000_000), tv_nsec: Int(unixNs % 1_000_000_000))
        return clock_settime(CLOCK_REALTIME, &spec) == 0 ? nil : "clock_settime failed (\(GuestHost.errnoText()))"
    }

    /// Under systemd, restarts the time daemon that runs (timesyncd or chrony): after the step,
    /// its drift and offset estimates are the parent's and wrong. `--no-block` queues the restart
    /// without waiting for it. Best effort, logged: the clock is already right.
    private static func tellTimeDaemons() {
        guard access("/run/systemd/system", F_OK) == 0, Tool.exists("systemctl") else { return }
        for unit in timeDaemons where Tool.run("systemctl", ["is-active", "--quiet", unit]) == nil {
            if let failure = Tool.run("systemctl", ["--no-block", "restart", unit]) {
                Log.info("could not restart \(unit) after the clock step: \(failure)")
            } else {
                Log.info("restarted \(unit) after the clock step")
            }
        }
    }

    /// `sethostname`, then `/etc/hostname` when the image has one we may write (a read-only root
    /// is left as it is): that is what `hostnamectl` would do, without needing D-Bus and
    /// systemd-hostnamed, which read the file afresh. Then Debian's `127.0.1.1` line of
    /// `/etc/hosts`, if the image has one (`HostsFile`).
    private static func setHostname(_ name: String) -> ValidationError? {
        let nameBytes = Array(name.utf8)
        let result = nameBytes.withUnsafeBufferPointer { buffer -> Int32 in
            buffer.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { sethostname($0, buffer.count) }
            } ?? -1
        }
        guard result == 0 else { return ValidationError("hostname: sethostname failed (\(GuestHost.errnoText()))") }
        if access(hostnameFile, W_OK) == 0, Files.readTrimmed(hostnameFile) != name,
            !Files.overwrite(hostnameFile, nameBytes + [0x0A])
        {
            return ValidationError("hostname: cannot write \(hostnameFile) (\(GuestHost.errnoText()))")
        }
        if access(HostsFile.path, W_OK) == 0, let bytes = Files.read(HostsFile.path),
            let renamed = HostsFile.renaming(String(decoding: bytes, as: UTF8.self), to: name),
            !Files.overwrite(HostsFile.path, Array(renamed.utf8))
        {
            return ValidationError("hostname: cannot write \(HostsFile.path) (\(GuestHost.errnoText()))")
        }
        return nil
    }
}
