import FlockGuestKit
import Glibc

/// The app's settings. In the guest they come from the kernel command line (`flock.*=` words in
/// /proc/cmdline), so one image serves every experiment; on a workstation the same knobs can be
/// given as `--port`, `--miss-cost-ms`, `--max-connections` for quick local runs.
struct Config: Sendable {
    var port: UInt16 = 8080
    var missCostMs: Int = 50
    var maxConnections: Int = 64
    /// The backend wait of `/item` requests (see `BackendWait`); off while either is 0.
    var workers: Int = 0
    var itemWaitMs: Int = 0

    static func load(arguments: [String]) -> Config {
        var config = Config()
        if let bytes = Files.read("/proc/cmdline", maxBytes: 64 * 1024) {
            for word in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }) {
                let parts = word.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                config.set(String(parts[0]), String(parts[1]))
            }
        }
        var i = 1
        while i + 1 < arguments.count {
            switch arguments[i] {
            case "--port": config.set("flock.app_port", arguments[i + 1])
            case "--miss-cost-ms": config.set("flock.miss_cost_ms", arguments[i + 1])
            case "--max-connections": config.set("flock.max_conns", arguments[i + 1])
            default: break
            }
            i += 2
        }
        return config
    }

    /// Out-of-range values are ignored, keeping the default, rather than taking the app down.
    private mutating func set(_ key: String, _ value: String) {
        switch key {
        case "flock.app_port": if let v = UInt16(value), v > 0 { port = v }
        case "flock.miss_cost_ms": if let v = Int(value), (0...60_000).contains(v) { missCostMs = v }
        case "flock.max_conns": if let v = Int(value), (1...1024).contains(v) { maxConnections = v }
        case "flock.workers": if let v = Int(value), (0...1024).contains(v) { workers = v }
        case "flock.item_wait_ms": if let v = Int(value), (0...10_000).contains(v) { itemWaitMs = v }
        default: break
        }
    }
}
