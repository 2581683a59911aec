import FlockQEMU
import Foundation
import Yams

/// Reads a VM spec from YAML (`flockctl vm start SPEC`); relative image paths are resolved
/// against the spec file's directory, so `Deploy/guest/parent.yaml` works from anywhere.
///
/// Every problem is reported at once, like policy validation: unknown keys, wrong types, and
/// what `VMSpec.problems()` finds (missing image files included).
enum VMSpecFile {
    static let keys: Set<String> = [
        "name", "pool", "kernel", "initrd", "append", "disk", "memory_mib", "cpus", "accelerator", "network", "machine",
        "guest_port",
    ]
    static let networkKeys: Set<String> = ["mode", "bridge", "cidr", "gateway"]

    static func load(_ path: String) throws -> VMSpec {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CLIFailure("error: \(path): cannot read the VM spec")
        }
        let root: Any?
        do {
            root = try Yams.load(yaml: text)
        } catch {
            throw CLIFailure("error: \(path): not valid YAML: \(error)")
        }
        guard let map = root as? [String: Any] else { throw CLIFailure("error: \(path): a VM spec is a YAML mapping") }
        var problems: [String] = []
        for key in map.keys.sorted() where !keys.contains(key) {
            problems.append("unknown key '\(key)' (known: \(keys.sorted().joined(separator: ", ")))")
        }
        let base = URL(fileURLWithPath: path).deletingLastPathComponent()
        func string(_ key: String) -> String? {
            guard let value = map[key] else { return nil }
            if let text = value as? String { return text }
            problems.append("'\(key)' must be a string")
            return nil
        }
        func int(_ key: String, _ fallback: Int) -> Int {
            guard let value = map[key] else { return fallback }
            if let number = value as? Int { return number }
            problems.append("'\(key)' must be a whole number")
            return fallback
        }
        func file(_ key: String) -> String? {
            string(key).map { $0.hasPrefix("/") ? $0 : base.appendingPathComponent($0).standardizedFileURL.path }
        }
        var spec = VMSpec(name: string("name") ?? "", pool: string("pool") ?? "")
        if map["name"] == nil { problems.append("'name' is required") }
        if map["pool"] == nil { problems.append("'pool' is required") }
        spec.kernel = file("kernel")
        spec.initrd = file("initrd")
        spec.disk = file("disk")
        spec.append = string("append")
        spec.memoryMiB = int("memory_mib", spec.memoryMiB)
        spec.cpus = int("cpus", spec.cpus)
        spec.guestPort = int("guest_port", spec.guestPort)
        spec.machine = string("machine") ?? spec.machine
        if let text = string("accelerator") {
            if let accelerator = Accelerator(rawValue: text) {
                spec.accelerator = accelerator
            } else {
                problems.append("accelerator '\(text)' must be kvm, tcg or auto")
            }
        }
        if let network = map["network"] {
            if let network = network as? [String: Any] {
                for key in network.keys.sorted() where !networkKeys.contains(key) {
                    problems.append("unknown key 'network.\(key)'")
                }
                let mode = network["mode"] as? String ?? "user"
                if let parsed = NetworkSpec.Mode(rawValue: mode) {
                    spec.network.mode = parsed
                } else {
                    problems.append("network.mode '\(mode)' must be user or bridge")
                }
                spec.network.bridge = network["bridge"] as? String
                spec.network.cidr = network["cidr"] as? String
                spec.network.gateway = network["gateway"] as? String
            } else {
                problems.append("'network' must be a mapping such as { mode: user }")
            }
        }
        problems += spec.problems()
        guard problems.isEmpty else {
            throw CLIFailure(problems.map { "\(path): error: \($0)" }.joined(separator: "\n"))
        }
        return spec
    }
}
