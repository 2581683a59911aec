import FlockCore
import Foundation

/// A Xen PV guest Flock starts as a parent: kernel, ramdisk and command line booted directly,
/// memory, vCPUs and one vif on a bridge.
///
/// The guest's address is Flock's to hand out (the agent applies it from the identity), so the
/// driver can health-check the app and give clones free addresses in the same subnet.
public struct XenVMSpec: Sendable, Hashable, Codable {
    /// The domain's name, `[a-z0-9-]{1,63}`; clones carry Flock's prefix.
    public var name: String
    public var pool: String
    public var kernel: String
    public var ramdisk: String?
    public var cmdline: String?
    public var memoryMiB: Int
    public var vcpus: Int
    /// The dom0 bridge the vif joins (`xenbr0` in Xen's network docs).
    public var bridge: String
    /// The vif's MAC; a random one in Xen's OUI (00:16:3e) when absent.
    public var mac: String?
    /// The vif's hotplug script (libxl's `script=`), an absolute path; libxl's default
    /// (`vif-bridge`) when absent. Clones restored from the parent use the same one.
    public var vifScript: String?
    /// The guest's IPv4 address, prefix length and gateway (the subnet's first address when absent).
    public var address: String
    public var prefix: Int
    public var gateway: String?
    /// The port the app listens on inside the guest; `/healthz` there decides that it serves.
    public var guestPort: Int

    public init(
        name: String, pool: String, kernel: String, ramdisk: String? = nil, cmdline: String? = nil,
        memoryMiB: Int = 256, vcpus: Int = 1, bridge: String = "xenbr0", mac: String? = nil,
        vifScript: String? = nil, address: String, prefix: Int = 24, gateway: String? = nil, guestPort: Int = 8080
    ) {
        self.name = name
        self.pool = pool
        self.kernel = kernel
        self.ramdisk = ramdisk
        self.cmdline = cmdline
        self.memoryMiB = memoryMiB
        self.vcpus = vcpus
        self.bridge = bridge
        self.mac = mac
        self.vifScript = vifScript
        self.address = address
        self.prefix = prefix
        self.gateway = gateway
        self.guestPort = guestPort
    }

    /// The guest's subnet, from `address` and `prefix`.
    public var subnet: IPv4Subnet? { IPv4Subnet("\(address)/\(prefix)") }

    /// `gateway`, else the subnet's first address.
    public var effectiveGateway: String? { gateway ?? subnet?.firstHost }

    /// Every problem, so an operator fixes them in one go; empty when the spec can run.
    public func problems(checkFiles: Bool = true) -> [String] {
        var problems: [String] = []
        if !Self.isValidName(name) { problems.append("name '\(name)' must be 1-63 characters of [a-z0-9-]") }
        if !Self.isValidName(pool) { problems.append("pool '\(pool)' must be 1-63 characters of [a-z0-9-]") }
        for (field, path) in [("kernel", Optional(kernel)), ("ramdisk", ramdisk)] {
            guard let path else { continue }
            if !path.hasPrefix("/") {
                problems.append("\(field) '\(path)' must be an absolute path (libxl reads it in dom0)")
            } else if checkFiles && !FileManager.default.isReadableFile(atPath: path) {
                problems.append("\(field) '\(path)' does not exist or is not readable")
            }
        }
        if !(64...65536).contains(memoryMiB) { problems.append("memory_mib \(memoryMiB) must be 64...65536") }
        if !(1...64).contains(vcpus) { problems.append("vcpus \(vcpus) must be 1...64") }
        if !XenDriverConfiguration.isValidBridgeName(bridge) {
            problems.append("bridge '\(bridge)' must be a Linux interface name (1-15 of [A-Za-z0-9_-])")
        }
        if let mac, XenMAC(mac) == nil { problems.append("mac '\(mac)' must look like 00:16:3e:12:34:56") }
        if let vifScript {
            if !vifScript.hasPrefix("/") {
                problems.append("vif_script '\(vifScript)' must be an absolute path (libxl runs it in dom0)")
            } else if checkFiles && !FileManager.default.isExecutableFile(atPath: vifScript) {
                problems.append("vif_script '\(vifScript)' does not exist or is not executable")
            }
        }
        if IPv4Subnet.parseAddress(address) == nil {
            problems.append("address '\(address)' must be an IPv4 address such as 10.78.0.2")
        } else if subnet == nil {
            problems.append("prefix \(prefix) must be 8...30")
        }
        if let gateway, IPv4Subnet.parseAddress(gateway) == nil {
            problems.append("gateway '\(gateway)' must be an IPv4 address")
        }
        if !(1...65535).contains(guestPort) { problems.append("guest_port \(guestPort) must be 1...65535") }
        return problems
    }

    /// Throws `XenError.invalidSpec` listing every problem.
    public func validate(checkFiles: Bool = true) throws(XenError) {
        let problems = problems(checkFiles: checkFiles)
        guard problems.isEmpty else { throw .invalidSpec(problems) }
    }

    static func isValidName(_ name: String) -> Bool {
        (1...63).contains(name.count)
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }
}
