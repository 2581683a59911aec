import CXenLight
import Foundation

/// A `libxl_domain_config` owned by Swift: initialised when made, disposed (with every string
/// and array libxl hangs off it) when released.
///
/// Strings and arrays put into it are `malloc`ed (`strdup`, `calloc`) because libxl's dispose
/// functions `free` them.
final class XenDomainConfig: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<libxl_domain_config>

    init() {
        pointer = .allocate(capacity: 1)
        libxl_domain_config_init(pointer)
    }

    deinit {
        libxl_domain_config_dispose(pointer)
        pointer.deallocate()
    }

    /// The config a parent boots from: what `xl create` builds for a PV guest with `name`,
    /// `memory`, `vcpus`, `kernel`, `ramdisk`, `extra` and one `vif = ['mac=…,bridge=…,script=…']`.
    ///
    /// Pure (no libxl context, no hypervisor), so it is unit-tested field by field.
    static func parent(_ spec: XenVMSpec, mac: XenMAC) -> XenDomainConfig {
        let config = XenDomainConfig()
        let c = config.pointer
        c.pointee.c_info.type = LIBXL_DOMAIN_TYPE_PV
        c.pointee.c_info.name = strdup(spec.name)
        libxl_uuid_generate(&c.pointee.c_info.uuid)

        libxl_domain_build_info_init_type(&c.pointee.b_info, LIBXL_DOMAIN_TYPE_PV)
        c.pointee.b_info.max_vcpus = Int32(spec.vcpus)
        c.pointee.b_info.avail_vcpus = onlineVCPUs(spec.vcpus)
        let kib = UInt64(spec.memoryMiB) * 1024
        c.pointee.b_info.max_memkb = kib
        c.pointee.b_info.target_memkb = kib
        // The top-level kernel/ramdisk/cmdline (libxl ≥ 4.9), not the deprecated u.pv copies.
        c.pointee.b_info.kernel = strdup(spec.kernel)
        c.pointee.b_info.ramdisk = spec.ramdisk.map { strdup($0) } ?? nil
        c.pointee.b_info.cmdline = spec.cmdline.map { strdup($0) } ?? nil

        let nic = UnsafeMutablePointer<libxl_device_nic>(
            OpaquePointer(calloc(1, MemoryLayout<libxl_device_nic>.stride)!))
        libxl_device_nic_init(nic)
        nic.pointee.devid = 0
        nic.pointee.mac = mac.bytes
        nic.pointee.bridge = strdup(spec.bridge)
        nic.pointee.script = spec.vifScript.map { strdup($0) } ?? nil
        c.pointee.num_nics = 1
        c.pointee.nics = nic
        return config
    }

    /// Turns a copy of the parent's retrieved config into a clone's: a new name, UUID and vif
    /// MAC, the domid left for Xen to pick, and for HVM a new VM generation ID; everything else
    /// (memory, vCPUs, kernel, bridge…) stays the parent's, which a restore of the parent's
    /// checkpoint requires.
    ///
    /// PV guests have no VM generation ID device (`ms_vm_genid` is an HVM field): their fresh
    /// entropy comes from the identity the agent applies. `holdBridge`, when given, replaces the
    /// first vif's bridge (see `XenDriverConfiguration.holdBridge`).
    func deriveClone(name: String, mac: XenMAC, holdBridge: String? = nil) {
        let c = pointer
        free(c.pointee.c_info.name)
        c.pointee.c_info.name = strdup(name)
        libxl_uuid_generate(&c.pointee.c_info.uuid)
        // The retrieved config may carry the parent's domid; a clone takes libxl's default
        // (Xen allocates one), read from a freshly initialised create_info.
        var fresh = libxl_domain_create_info()
        libxl_domain_create_info_init(&fresh)
        c.pointee.c_info.domid = fresh.domid
        libxl_domain_create_info_dispose(&fresh)
        for index in 0..<Int(c.pointee.num_nics) {
            let nic = c.pointee.nics.advanced(by: index)
            nic.pointee.mac = index == 0 ? mac.bytes : XenMAC.random(excluding: [mac.text]).bytes
            // libxl names the backend vif<domid>.<devid> itself; the parent's name would clash.
            free(nic.pointee.ifname)
            nic.pointee.ifname = nil
            if index == 0, let holdBridge {
                free(nic.pointee.bridge)
                nic.pointee.bridge = strdup(holdBridge)
            }
        }
        if c.pointee.b_info.type == LIBXL_DOMAIN_TYPE_HVM {
            // What libxl_ms_vm_genid_generate does (random, never zero), without needing a ctx.
            var generator = SystemRandomNumberGenerator()
            withUnsafeMutableBytes(of: &c.pointee.b_info.u.hvm.ms_vm_genid.bytes) { bytes in
                repeat {
                    for index in bytes.indices { bytes[index] = UInt8.random(in: 0...255, using: &generator) }
                } while bytes.allSatisfy { $0 == 0 }
            }
        }
    }

    /// libxl's JSON of the config (what `xl` stores and prints); works without a context.
    var json: String? {
        guard let text = libxl_domain_config_to_json(nil, pointer) else { return nil }
        defer { free(text) }
        return String(cString: text)
    }

    /// A bitmap with the first `count` vCPUs online (libxl would bring up only vCPU 0).
    private static func onlineVCPUs(_ count: Int) -> libxl_bitmap {
        let size = (count + 7) / 8
        let map = calloc(size, 1)!.assumingMemoryBound(to: UInt8.self)
        for vcpu in 0..<count { map[vcpu / 8] |= UInt8(1 << (vcpu % 8)) }
        return libxl_bitmap(size: UInt32(size), map: map)
    }
}
