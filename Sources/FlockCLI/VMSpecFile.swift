import FlockQEMU
import Foundation

/// Reads a QEMU VM spec from YAML (`flockctl vm start SPEC`).
///
/// Every problem is reported at once, like policy validation: unknown keys, wrong types, and
/// what `VMSpec.problems()` finds (missing image files included).
public enum VMSpecFile {
    static let keys: Set<String> = [
        "name", "pool", "kernel", "initrd", "append", "disk", "memory_mib", "cpus", "accelerator", "network", "machine",
        "guest_port",
    ]
    static let networkKeys: Set<String> = ["mode", "bridge", "cidr", "gateway"]

    public static func load(_ path: String) throws -> VMSpec {
        var file = try SpecMapping(path: path, keys: keys)
        var spec = VMSpec(name: file.required("name"), pool: file.required("pool"))
        spec.kernel = file.file("kernel")
        spec.initrd = file.file("initrd")
        spec.disk = file.file("disk")
        spec.append = file.string("append")
        spec.memoryMiB = file.int("memory_mib", spec.memoryMiB)
        spec.cpus = file.int("cpus", spec.cpus)
        spec.guestPort = file.int("guest_port", spec.guestPort)
        spec.machine = file.string("machine") ?? spec.machine
        if let text = file.string("accelerator") {
            if let accelerator = Accelerator(rawValue: text) {
                spec.accelerator = accelerator
            } else {
                file.problem("accelerator '\(text)' must be kvm, tcg or auto")
            }
        }
        if let network = file.map["network"] {
            if let network = network as? [String: Any] {
                for key in network.keys.sorted() where !networkKeys.contains(key) {
                    file.problem("unknown key 'network.\(key)'")
                }
                let mode = network["mode"] as? String ?? "user"
                if let parsed = NetworkSpec.Mode(rawValue: mode) {
                    spec.network.mode = parsed
                } else {
                    file.problem("network.mode '\(mode)' must be user or bridge")
                }
                spec.network.bridge = network["bridge"] as? String
                spec.network.cidr = network["cidr"] as? String
                spec.network.gateway = network["gateway"] as? String
            } else {
                file.problem("'network' must be a mapping such as { mode: user }")
            }
        }
        try file.finish(spec.problems())
        return spec
    }
}
