import FlockCore
import Foundation

/// What a VM is made of: its boot image, size, accelerator and network.
///
/// Parents start from a spec; cold clones boot from their parent's spec, and lazy/eager clones
/// restore with the same machine shape, which migration requires.
public struct VMSpec: Sendable, Hashable, Codable {
    /// The VM's name: `[a-z0-9-]{1,63}`. Parents may be named freely; clones carry Flock's prefix.
    public var name: String
    /// The pool the VM serves.
    public var pool: String
    /// A kernel and initrd to boot directly (no bootloader), with its command line.
    public var kernel: String?
    public var initrd: String?
    public var append: String?
    /// A raw or qcow2 virtio-blk disk: the root disk booted by the firmware, or, with `kernel`,
    /// a data disk. Never written: each VM runs on its own qcow2 overlay of it.
    public var disk: String?
    public var memoryMiB: Int
    public var cpus: Int
    public var accelerator: Accelerator
    public var network: NetworkSpec
    /// QEMU's machine type; clones always use their parent's.
    public var machine: String
    /// The port the app listens on inside the guest.
    public var guestPort: Int

    public init(
        name: String, pool: String, kernel: String? = nil, initrd: String? = nil, append: String? = nil,
        disk: String? = nil, memoryMiB: Int = 256, cpus: Int = 1, accelerator: Accelerator = .auto,
        network: NetworkSpec = NetworkSpec(), machine: String = "q35", guestPort: Int = 8080
    ) {
        self.name = name
        self.pool = pool
        self.kernel = kernel
        self.initrd = initrd
        self.append = append
        self.disk = disk
        self.memoryMiB = memoryMiB
        self.cpus = cpus
        self.accelerator = accelerator
        self.network = network
        self.machine = machine
        self.guestPort = guestPort
    }

    /// Every problem in the spec, so an operator fixes them in one go; empty when it can run.
    public func problems(checkFiles: Bool = true) -> [String] {
        var problems: [String] = []
        if !Self.isValidName(name) { problems.append("name '\(name)' must be 1-63 characters of [a-z0-9-]") }
        if !Self.isValidName(pool) { problems.append("pool '\(pool)' must be 1-63 characters of [a-z0-9-]") }
        if kernel == nil && disk == nil { problems.append("one of 'kernel' or 'disk' is required") }
        if let disk, !QEMUDriverConfiguration.isSafePath(disk) {
            problems.append(
                "disk '\(disk)' must be an absolute path of [A-Za-z0-9/._-] (it is passed to QEMU unquoted)")
        }
        if initrd != nil && kernel == nil { problems.append("'initrd' needs 'kernel'") }
        if append != nil && kernel == nil { problems.append("'append' needs 'kernel'") }
        if checkFiles {
            for (field, path) in [("kernel", kernel), ("initrd", initrd), ("disk", disk)] {
                guard let path else { continue }
                if !FileManager.default.isReadableFile(atPath: path) {
                    problems.append(
                        "\(field) '\(path)' does not exist or is not readable (hint: bash Deploy/guest/build.sh builds the demo image)"
                    )
                }
            }
        }
        if !(64...65536).contains(memoryMiB) { problems.append("memory \(memoryMiB) MiB must be 64...65536") }
        if !(1...64).contains(cpus) { problems.append("cpus \(cpus) must be 1...64") }
        if !(1...65535).contains(guestPort) { problems.append("guest port \(guestPort) must be 1...65535") }
        if machine.isEmpty || !machine.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." || $0 == "_" })
        {
            problems.append("machine '\(machine)' must be a QEMU machine type such as q35 or pc")
        }
        problems.append(contentsOf: network.problems())
        return problems
    }

    /// Throws `QEMUError.invalidSpec` listing every problem.
    public func validate(checkFiles: Bool = true) throws(QEMUError) {
        let problems = problems(checkFiles: checkFiles)
        guard problems.isEmpty else { throw .invalidSpec(problems.joined(separator: "; ")) }
    }

    static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.count)
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}

/// How the vCPUs run.
public enum Accelerator: String, Sendable, Hashable, Codable, CaseIterable {
    /// Hardware virtualization; fails if KVM does not work.
    case kvm
    /// Software emulation: slow but works everywhere.
    case tcg
    /// KVM if a probe guest really runs under it, else TCG with a warning.
    case auto
}

/// How a VM reaches the network.
public struct NetworkSpec: Sendable, Hashable, Codable {
    public enum Mode: String, CaseIterable, Sendable, Hashable, Codable {
        /// QEMU's user-mode stack; the app's port is forwarded to a free 127.0.0.1 port per VM.
        case user
        /// A TAP device on a Linux bridge, with a unique MAC and an IP from `cidr`.
        case bridge
    }

    public var mode: Mode
    /// Bridge mode: the Linux bridge to attach TAPs to.
    public var bridge: String?
    /// Bridge mode: the pool's subnet, e.g. `10.77.0.0/24`; clones get addresses from it.
    public var cidr: String?
    /// Bridge mode: the default gateway; the subnet's first address when absent.
    public var gateway: String?

    public init(mode: Mode = .user, bridge: String? = nil, cidr: String? = nil, gateway: String? = nil) {
        self.mode = mode
        self.bridge = bridge
        self.cidr = cidr
        self.gateway = gateway
    }

    func problems() -> [String] {
        guard mode == .bridge else { return [] }
        var problems: [String] = []
        if let bridge {
            if !(1...15).contains(bridge.count)
                || !bridge.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            {
                problems.append("bridge '\(bridge)' must be a Linux interface name (1-15 of [A-Za-z0-9_-])")
            }
        } else {
            problems.append("network mode 'bridge' needs 'bridge'")
        }
        if let cidr {
            if IPv4Subnet(cidr) == nil { problems.append("cidr '\(cidr)' must look like 10.77.0.0/24 (prefix 8...30)") }
        } else {
            problems.append("network mode 'bridge' needs 'cidr'")
        }
        if let gateway, IPv4Subnet.parseAddress(gateway) == nil {
            problems.append("gateway '\(gateway)' must be an IPv4 address")
        }
        return problems
    }
}
