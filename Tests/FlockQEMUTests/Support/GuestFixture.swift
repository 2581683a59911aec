import FlockCore
import FlockSystem
import Foundation

@testable import FlockQEMU

/// The demo guest image built by `Deploy/guest/build.sh`; tests that boot VMs need it.
enum GuestImage {
    static var root: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<4 { url.deleteLastPathComponent() }
        return url.path + "/.build-guest"
    }
    static var kernel: String { root + "/vmlinuz" }
    static var initrd: String { root + "/initrd.img" }

    /// A parent spec for the demo image, TCG (KVM does not run stock guests on these hosts).
    static func spec(name: String, pool: String, memoryMiB: Int = 256) -> VMSpec {
        VMSpec(
            name: name, pool: pool, kernel: kernel, initrd: initrd,
            append: "console=ttyS0 quiet flock.miss_cost_ms=200",
            memoryMiB: memoryMiB, cpus: 1, accelerator: .tcg)
    }
}

/// The demo app's HTTP, through FlockCore's `PlainHTTP`, in the tests' argument order.
enum HTTP {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func get(
        _ host: String, _ port: Int, _ path: String, timeout: Duration = .seconds(10)
    ) async throws -> PlainHTTP.Response {
        try await PlainHTTP.get(host: host, port: port, path, timeout: timeout)
    }

    static func json(_ host: String, _ port: Int, _ path: String) async throws -> [String: Any] {
        try await get(host, port, path).json ?? [:]
    }
}
