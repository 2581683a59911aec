import FlockCLI
import FlockXen
import Foundation

/// Reads a Xen parent spec from YAML (`flockctl vm start --hypervisor xen SPEC`), e.g.
/// `Deploy/xen/parent.yaml`; every problem is reported at once, like `VMSpecFile`.
enum XenSpecFile {
    static let keys: Set<String> = [
        "name", "pool", "kernel", "ramdisk", "cmdline", "memory_mib", "vcpus", "bridge", "mac", "vif_script", "address",
        "prefix", "gateway", "guest_port",
    ]

    static func load(_ path: String) throws -> XenVMSpec {
        var file = try SpecMapping(path: path, keys: keys)
        var spec = XenVMSpec(
            name: file.required("name"), pool: file.required("pool"), kernel: file.file("kernel") ?? "",
            address: file.required("address"))
        if file.map["kernel"] == nil { file.problem("'kernel' is required") }
        spec.ramdisk = file.file("ramdisk")
        spec.cmdline = file.string("cmdline")
        spec.memoryMiB = file.int("memory_mib", spec.memoryMiB)
        spec.vcpus = file.int("vcpus", spec.vcpus)
        spec.bridge = file.string("bridge") ?? spec.bridge
        spec.mac = file.string("mac")
        spec.vifScript = file.file("vif_script")
        spec.prefix = file.int("prefix", spec.prefix)
        spec.gateway = file.string("gateway")
        spec.guestPort = file.int("guest_port", spec.guestPort)
        // Problems of missing keys are already listed; the spec's own checks would repeat them.
        let missing = ["name", "pool", "kernel", "address"].contains { file.map[$0] == nil }
        try file.finish(missing ? [] : spec.problems())
        return spec
    }
}
