import FlockGuestKit
import Glibc

/// Bridge mode's network step: the MAC first (the link must be down to change it), then a clean
/// address, the default route, and a gratuitous ARP. Through `ip`, which is iproute2's on a
/// Debian image and busybox's on the busybox image; both take these arguments.
///
/// On a systemd image, networkd must leave the interface to the agent (`Unmanaged=yes` in its
/// `.network` file, or no file matching it): networkd reapplies its own configuration when the
/// link goes down and up for the MAC change, and would put the parent's address back.
enum NetworkSetup {
    /// The NIC: `eth0` when it exists (the busybox image, or `net.ifnames=0`), else the first, by
    /// name, of the interfaces backed by a device (`ens3`, `enp0s3` under predictable names).
    static func interface() -> String {
        if access("/sys/class/net/eth0", F_OK) == 0 { return "eth0" }
        let devices = (Files.entries("/sys/class/net") ?? []).filter {
            access("/sys/class/net/\($0)/device", F_OK) == 0
        }
        return devices.min { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) } ?? "eth0"
    }

    /// Tried a few times: a Xen clone's netfront reconnects to its new backend right after the
    /// restore, and takes the new MAC from it; while it does, `ip link` on the device can fail.
    static func configure(_ network: IdentityRequest.Network) -> String? {
        var failure: String?
        for attempt in 1...10 {
            failure = configureOnce(network, device: interface())
            guard let reason = failure else { return nil }
            Log.info("network configuration attempt \(attempt) failed: \(reason)")
            usleep(300_000)
        }
        return failure
    }

    private static func configureOnce(_ network: IdentityRequest.Network, device: String) -> String? {
        let currentMAC = Files.readTrimmed("/sys/class/net/\(device)/address")?.lowercased()
        var commands: [[String]] = []
        if currentMAC != network.mac {
            commands.append(["link", "set", "dev", device, "down"])
            commands.append(["link", "set", "dev", device, "address", network.mac])
        }
        commands.append(["addr", "flush", "dev", device])
        commands.append(["addr", "add", "\(network.address)/\(network.prefix)", "dev", device])
        commands.append(["link", "set", "dev", device, "up"])
        commands.append(["route", "replace", "default", "via", network.gateway, "dev", device])
        for command in commands {
            if let failure = Tool.run("ip", command) { return failure }
        }
        // Neighbours (a bridge, or QEMU's user-mode stack) still map our address to the old
        // MAC; the announcement updates them now instead of whenever we next ARP ourselves.
        // Best effort: the address is configured either way.
        if let failure = announce(network, device: device) {
            Log.info("gratuitous ARP on \(device) failed: \(failure)")
        }
        return nil
    }

    /// Sends one `GratuitousARP` frame on `device` through an `AF_PACKET` socket.
    static func announce(_ network: IdentityRequest.Network, device: String) -> String? {
        guard let frame = GratuitousARP.frame(mac: network.mac, address: network.address) else {
            return "cannot build a frame for \(network.mac) \(network.address)"
        }
        let index = if_nametoindex(device)
        guard index != 0 else { return "no interface \(device)" }
        let arp = UInt16(0x0806).bigEndian
        let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(arp))
        guard fd >= 0 else { return "socket(AF_PACKET) failed (\(GuestHost.errnoText()))" }
        defer { close(fd) }
        // struct sockaddr_ll (linux/if_packet.h), which Swift's Glibc module does not export:
        // u16 family, be16 protocol, i32 ifindex, u16 hatype, u8 pkttype, u8 halen, u8 addr[8].
        var address = [UInt8](repeating: 0, count: 20)
        withUnsafeBytes(of: UInt16(AF_PACKET)) { address.replaceSubrange(0..<2, with: $0) }
        withUnsafeBytes(of: arp) { address.replaceSubrange(2..<4, with: $0) }
        withUnsafeBytes(of: Int32(index)) { address.replaceSubrange(4..<8, with: $0) }
        address[11] = 6
        address.replaceSubrange(12..<18, with: [UInt8](repeating: 0xFF, count: 6))
        let sent = frame.withUnsafeBytes { bytes in
            address.withUnsafeBytes { raw in
                sendto(
                    fd, bytes.baseAddress, bytes.count, 0, raw.baseAddress?.assumingMemoryBound(to: sockaddr.self),
                    socklen_t(raw.count))
            }
        }
        return sent == frame.count ? nil : "sendto failed (\(GuestHost.errnoText()))"
    }
}
