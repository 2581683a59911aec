import Foundation

/// This process's memory, from `/proc/self/status`.
public enum BenchMemory {
    public static func residentMiB() -> Double { field("VmRSS") }
    public static func peakMiB() -> Double { field("VmHWM") }

    private static func field(_ name: String) -> Double {
        let text = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }),
            let kib = line.split(separator: " ").compactMap({ Int($0) }).first
        else { return 0 }
        return Double(kib) / 1024
    }

    /// The database with its WAL: both are what the store costs on disk.
    public static func storeBytes(_ path: String) -> Int {
        [path, path + "-wal", path + "-shm"].reduce(0) { total, file in
            total + ((try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int) ?? 0)
        }
    }
}
