import FlockGuestKit
import Glibc

/// Applies a validated identity to the running guest, in the order the protocol fixes:
/// entropy first (so nothing after it, including the app, draws from the parent's RNG state),
/// then the clock, the hostname, the network, and last the identity file the app reads.
enum IdentityApplier {
    /// `_IOW('R', 0x03, int[2])` and `_IO('R', 0x07)` from <linux/random.h>.
    static let rndAddEntropy: UInt = 0x4008_5203
    static let rndReseedCRNG: UInt = 0x5207
    static let busybox = "/bin/busybox"

    /// Returns the names of the steps applied, or the first failure.
    static func apply(_ request: IdentityRequest) -> Result<[String], ValidationError> {
        var applied: [String] = []
        if let failure = addEntropy(request.entropy) { return .failure(ValidationError("entropy: " + failure)) }
        applied.append("entropy")
        if let failure = setClock(request.timeUnixNs) { return .failure(ValidationError("clock: " + failure)) }
        applied.append("clock")
        let nameBytes = Array(request.hostname.utf8)
        let hostnameResult = nameBytes.withUnsafeBufferPointer { buffer -> Int32 in
            buffer.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: buffer.count) { sethostname($0, buffer.count) }
            } ?? -1
        }
        guard hostnameResult == 0 else {
            return .failure(ValidationError("hostname: sethostname failed (\(GuestHost.errnoText()))"))
        }
        applied.append("hostname")
        if let network = request.network {
            if let failure = configure(network) { return .failure(ValidationError("network: " + failure)) }
            applied.append("network")
        }
        let file = IdentityFile(cloneID: request.cloneID, generation: request.generation, hostname: request.hostname)
        guard file.save() else {
            let why = GuestHost.errnoText()
            return .failure(ValidationError("identity file: cannot write \(IdentityFile.path) (\(why))"))
        }
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

    /// Bridge mode: the MAC first (the link must be down to change it), then a clean address
    /// and the default route. Tried a few times: a Xen clone's netfront reconnects to its new
    /// backend right after the restore, and takes the new MAC from it; while it does, `ip link`
    /// on the device can fail.
    private static func configure(_ network: IdentityRequest.Network) -> String? {
        var failure: String?
        for attempt in 1...10 {
            failure = configureOnce(network)
            guard let reason = failure else { return nil }
            Log.info("network configuration attempt \(attempt) failed: \(reason)")
            usleep(300_000)
        }
        return failure
    }

    private static func configureOnce(_ network: IdentityRequest.Network) -> String? {
        let device = "eth0"
        let currentMAC = Files.readTrimmed("/sys/class/net/\(device)/address")?.lowercased()
        var commands: [[String]] = []
        if currentMAC != network.mac {
            commands.append(["ip", "link", "set", "dev", device, "down"])
            commands.append(["ip", "link", "set", "dev", device, "address", network.mac])
        }
        commands.append(["ip", "addr", "flush", "dev", device])
        commands.append(["ip", "addr", "add", "\(network.address)/\(network.prefix)", "dev", device])
        commands.append(["ip", "link", "set", "dev", device, "up"])
        commands.append(["ip", "route", "replace", "default", "via", network.gateway, "dev", device])
        for command in commands {
            if let failure = Spawn.run(busybox, command) { return failure }
        }
        // Neighbours (a bridge, or QEMU's user-mode stack) still map our address to the old
        // MAC; an unsolicited ARP updates them now instead of whenever we next ARP ourselves.
        // Best effort: the address is configured either way.
        if let failure = Spawn.run(busybox, ["arping", "-U", "-c", "1", "-w", "1", "-I", device, network.address]) {
            Log.info("gratuitous ARP failed: \(failure)")
        }
        return nil
    }
}
