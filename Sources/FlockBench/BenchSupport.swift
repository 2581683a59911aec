import FlockCLI
import FlockCore
import Foundation

/// Small statistics and formatting shared by the benches.
public enum BenchMath {
    /// The nearest-rank percentile (`p` in 0...100) of `values`; 0 for none, so JSON stays numeric.
    public static func percentile(_ values: [Double], _ p: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    public static func median(_ values: [Double]) -> Double { percentile(values, 50) }

    /// The median, or nil for none: a figure no round produced is absent, not 0.
    public static func medianIfAny(_ values: [Double]) -> Double? { values.isEmpty ? nil : median(values) }

    public static func milliseconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    }

    /// Rounded to two decimals, so the JSON is readable and diffs between runs stay small.
    public static func round2(_ value: Double) -> Double { (value * 100).rounded() / 100 }

    /// `a / b`, or nil when `b` is not a positive number (a mode that was not run).
    public static func ratio(_ a: Double?, _ b: Double?) -> Double? {
        guard let a, let b, b > 0 else { return nil }
        return round3(a / b)
    }

    /// Ratios are small numbers: three decimals keep 0.05 from reading as 0.1.
    public static func round3(_ value: Double) -> Double { (value * 1000).rounded() / 1000 }
}

/// What machine a result came from, for the JSON's `machine` and the README: results from a
/// 2-core TCG host mean little without saying so.
public enum BenchMachine {
    /// - Parameter loadAtStart: the load average when the bench began; the bench's own VMs
    ///   raise it by the end, so both are shown.
    public static func describe(accelerator: String? = nil, loadAtStart: String? = nil) -> String {
        var parts: [String] = []
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" }
        parts.append("\(ProcessInfo.processInfo.activeProcessorCount) × \(model ?? "unknown CPU")")
        let gib = Double(ProcessInfo.processInfo.physicalMemory) / 1_073_741_824
        parts.append(String(format: "%.0f GiB RAM", gib))
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        parts.append("Linux \(release)")
        if let accelerator { parts.append(accelerator.uppercased()) }
        parts.append(loadAtStart.map { "load \($0) at start, \(loadAverage()) at end" } ?? "load \(loadAverage())")
        return parts.joined(separator: ", ")
    }

    /// The 1-minute load average, to show how busy the shared machine was.
    public static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").first.map(String.init) ?? "?"
    }
}

/// Writes a JSON document for `--json FILE`, keys sorted so runs diff cleanly.
public enum BenchJSON {
    /// How the bench was run, as typed, for the JSON's `command`: so a result says how to rerun it.
    public static var commandLine: String {
        (["flock-bench"] + CommandLine.arguments.dropFirst()).joined(separator: " ")
    }

    public static func write(_ object: [String: Any], to path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        guard FileManager.default.createFile(atPath: path, contents: data + Data("\n".utf8)) else {
            throw CLIFailure("error: cannot write \(path)")
        }
    }

    /// `nil` as JSON null: a ratio for a mode that was not run.
    public static func orNull(_ value: Double?) -> Any { value.map { $0 as Any } ?? NSNull() }
}
