import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Host-side network plumbing: loopback ports for user mode, MACs, and TAPs for bridge mode.
enum Networking {
    /// A port on 127.0.0.1 that is free right now (the kernel picks it), for a user-mode forward.
    static func freePort() throws(QEMUError) -> Int {
        do {
            return try freeLoopbackPort()
        } catch {
            throw .io("cannot find a free loopback port: \(error.message)")
        }
    }

    /// A random locally administered unicast MAC (first octet 0x52) not in `used`.
    static func uniqueMAC(excluding used: Set<String>) -> String {
        var generator = SystemRandomNumberGenerator()
        while true {
            let tail = (0..<5).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }
            let mac = (["52"] + tail).joined(separator: ":")
            if !used.contains(mac) { return mac }
        }
    }

    /// The TAP name for a VM: `flk` and a hash of its name, within Linux's 15 characters.
    static func tapName(for vm: String) -> String {
        var hash: UInt32 = 2_166_136_261
        for byte in vm.utf8 { hash = (hash ^ UInt32(byte)) &* 16_777_619 }
        return "flk" + String(format: "%08x", hash)
    }

    /// Creates a TAP on `bridge` and brings it up, with `ip` run from an argument array.
    static func createTAP(_ tap: String, bridge: String, namespace: String?, log: String) async throws(QEMUError) {
        let scope = namespace.map { ["-n", $0] } ?? []
        for arguments in [
            ["tuntap", "add", "dev", tap, "mode", "tap"], ["link", "set", tap, "master", bridge],
            ["link", "set", tap, "up"],
        ] {
            let status = try await runTool("ip", scope + arguments, log: log, timeout: .seconds(10))
            guard status == 0 else {
                await deleteTAP(tap, namespace: namespace, log: log)
                let detail =
                    (try? String(contentsOfFile: log, encoding: .utf8))?.split(separator: "\n").last.map(String.init)
                    ?? ""
                throw .launch(tap, "ip \(arguments.joined(separator: " ")) failed (status \(status)): \(detail)")
            }
        }
    }

    static func deleteTAP(_ tap: String, namespace: String?, log: String) async {
        let scope = namespace.map { ["-n", $0] } ?? []
        _ = try? await runTool("ip", scope + ["link", "delete", tap], log: log, timeout: .seconds(10))
    }
}
