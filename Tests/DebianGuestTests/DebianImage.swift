import FlockCore
import FlockSystem
import Foundation

@testable import FlockQEMU

/// The Debian guest image built by `Deploy/guest/build-debian.sh` (Deploy/test.sh builds it
/// before this suite): systemd, nginx's proxy_cache on :8080 in front of flock-demo-app, and
/// flock-agent installed from its .deb.
enum DebianImage {
    static var root: String {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path + "/.build-guest/debian"
    }
    static var kernel: String { root + "/vmlinuz" }
    static var initrd: String { root + "/initrd.img" }
    static var disk: String { root + "/rootfs.qcow2" }

    /// Why the image cannot be used, or nil when all its files are there.
    static var missing: String? {
        let absent = [kernel, initrd, disk].filter { !FileManager.default.fileExists(atPath: $0) }
        return absent.isEmpty ? nil : "missing \(absent.joined(separator: ", ")): run bash Deploy/guest/build-debian.sh"
    }

    /// A parent spec, as Deploy/guest/debian.yaml has it, under TCG. Each miss costs the origin
    /// 200 ms, so a miss and a hit are far apart.
    static func spec(name: String, pool: String) -> VMSpec {
        VMSpec(
            name: name, pool: pool, kernel: kernel, initrd: initrd,
            append: "root=/dev/vda rw console=ttyS0 quiet flock.miss_cost_ms=200", disk: disk,
            memoryMiB: 512, cpus: 1, accelerator: .tcg)
    }
}

/// The guest's HTTP, through FlockSystem's `PlainHTTP`.
enum HTTP {
    static func get(_ port: Int, _ path: String) async throws -> PlainHTTP.Response {
        try await PlainHTTP.get(host: "127.0.0.1", port: port, path, timeout: .seconds(20))
    }

    static func json(_ port: Int, _ path: String) async throws -> [String: Any] {
        try await get(port, path).json ?? [:]
    }

    /// nginx's own cache status for a request (`$upstream_cache_status`: HIT, MISS, ...).
    static func cacheStatus(_ port: Int, _ path: String) async throws -> String? {
        try await get(port, path).headers["x-cache-status"]
    }
}

/// Facts about files and processes on the host, for "nothing left behind" and disk checks.
enum HostFacts {
    /// Files under a directory, relative.
    static func files(under root: String) -> Set<String> {
        Set((FileManager.default.enumerator(atPath: root)?.allObjects as? [String]) ?? [])
    }

    /// Processes whose command line contains `marker` (a VM's own directory).
    static func processes(mentioning marker: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return String(decoding: data, as: UTF8.self).contains(marker)
        }
    }

    /// Bytes a file really occupies on disk (a qcow2 overlay grows as the guest writes).
    static func allocatedBytes(_ path: String) -> Int {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_blocks) * 512 : -1
    }

    /// The SHA-256 of a file, by sha256sum.
    static func sha256(_ path: String) async throws -> String {
        let outcome = try await ChildProcess.run("sha256sum", [path], timeout: .seconds(60))
        return String(outcome.standardOutput.prefix(64))
    }
}
