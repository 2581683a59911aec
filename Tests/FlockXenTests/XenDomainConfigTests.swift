import CXenLight
import FlockCore
import Foundation
import Testing

@testable import FlockXen

/// The spec → `libxl_domain_config` translation and the clone derivation, read back from the
/// C structs libxl will be handed. Each test keeps its config alive to the end: the config's
/// deinit frees what those C pointers point at.
@Suite struct XenDomainConfigTests {
    static let spec = XenVMSpec(
        name: "web-parent", pool: "web", kernel: "/var/lib/flock/vmlinuz", ramdisk: "/var/lib/flock/initrd.img",
        cmdline: "console=hvc0 quiet", memoryMiB: 256, vcpus: 2, bridge: "xenbr0", mac: "00:16:3e:0a:0b:0c",
        address: "10.78.0.2", prefix: 24)
    static let mac = XenMAC("00:16:3e:0a:0b:0c")!

    @Test func aSpecBecomesAPVDomainWithOneVifOnTheBridge() throws {
        let config = XenDomainConfig.parent(Self.spec, mac: Self.mac)
        defer { withExtendedLifetime(config) {} }
        let c = config.pointer.pointee
        #expect(c.c_info.type == LIBXL_DOMAIN_TYPE_PV)
        #expect(c.b_info.type == LIBXL_DOMAIN_TYPE_PV)
        #expect(String(cString: try #require(c.c_info.name)) == "web-parent")
        #expect(libxl_uuid_is_nil(&config.pointer.pointee.c_info.uuid) == 0, "a UUID is generated")
        #expect(c.b_info.max_memkb == 256 * 1024)
        #expect(c.b_info.target_memkb == 256 * 1024)
        #expect(c.b_info.max_vcpus == 2)
        #expect(c.b_info.avail_vcpus.size == 1 && c.b_info.avail_vcpus.map[0] == 0b11, "both vCPUs online")
        #expect(String(cString: try #require(c.b_info.kernel)) == "/var/lib/flock/vmlinuz")
        #expect(String(cString: try #require(c.b_info.ramdisk)) == "/var/lib/flock/initrd.img")
        #expect(String(cString: try #require(c.b_info.cmdline)) == "console=hvc0 quiet")
        #expect(c.num_nics == 1)
        let nic = c.nics[0]
        #expect(String(cString: try #require(nic.bridge)) == "xenbr0")
        #expect(XenMAC(nic.mac) == Self.mac)
        #expect(nic.devid == 0)
    }

    @Test func libxlPrintsTheTranslatedConfigAsJSONWithoutAContext() throws {
        let config = XenDomainConfig.parent(Self.spec, mac: Self.mac)
        defer { withExtendedLifetime(config) {} }
        let text = try #require(config.json)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let cInfo = try #require(json["c_info"] as? [String: Any])
        let bInfo = try #require(json["b_info"] as? [String: Any])
        let nics = try #require(json["nics"] as? [[String: Any]])
        #expect(cInfo["type"] as? String == "pv")
        #expect(cInfo["name"] as? String == "web-parent")
        #expect(bInfo["max_memkb"] as? Int == 262_144)
        #expect(bInfo["kernel"] as? String == "/var/lib/flock/vmlinuz")
        #expect(bInfo["cmdline"] as? String == "console=hvc0 quiet")
        #expect(nics.first?["bridge"] as? String == "xenbr0")
        #expect(nics.first?["mac"] as? String == "00:16:3e:0a:0b:0c")
    }

    @Test func aCloneGetsANewNameUUIDAndMACAndKeepsEverythingElse() throws {
        let config = XenDomainConfig.parent(Self.spec, mac: Self.mac)
        defer { withExtendedLifetime(config) {} }
        let parentUUID = config.pointer.pointee.c_info.uuid
        let cloneMAC = XenMAC("00:16:3e:11:22:33")!
        config.deriveClone(name: "flock-web-a1b2c3", mac: cloneMAC)
        let c = config.pointer.pointee
        #expect(String(cString: try #require(c.c_info.name)) == "flock-web-a1b2c3")
        var cloneUUID = c.c_info.uuid
        var oldUUID = parentUUID
        #expect(libxl_uuid_compare(&cloneUUID, &oldUUID) != 0)
        #expect(XenMAC(c.nics[0].mac) == cloneMAC)
        #expect(c.nics[0].ifname == nil)
        #expect(c.c_info.type == LIBXL_DOMAIN_TYPE_PV)
        #expect(c.b_info.max_memkb == 256 * 1024 && c.b_info.max_vcpus == 2)
        #expect(String(cString: try #require(c.b_info.kernel)) == "/var/lib/flock/vmlinuz")
        #expect(String(cString: try #require(c.b_info.cmdline)) == "console=hvc0 quiet")
        #expect(String(cString: try #require(c.nics[0].bridge)) == "xenbr0")
    }

    @Test func aVifScriptGoesIntoTheNicAndIsCheckedLikeAFile() throws {
        var spec = Self.spec
        let plain = XenDomainConfig.parent(spec, mac: Self.mac)
        withExtendedLifetime(plain) {
            let script: UnsafeMutablePointer<CChar>? = plain.pointer.pointee.nics[0].script
            #expect(script == nil)  // libxl's default, vif-bridge
        }
        spec.vifScript = "/etc/xen/scripts/vif-flock"
        let scripted = XenDomainConfig.parent(spec, mac: Self.mac)
        try withExtendedLifetime(scripted) {
            let script = try #require(scripted.pointer.pointee.nics[0].script)
            #expect(String(cString: script) == "/etc/xen/scripts/vif-flock")
        }
        spec.vifScript = "vif-flock"
        #expect(
            spec.problems(checkFiles: false) == [
                "vif_script 'vif-flock' must be an absolute path (libxl runs it in dom0)"
            ])
        spec.vifScript = "/nonexistent/vif-flock"
        #expect(
            spec.problems(checkFiles: true).contains(
                "vif_script '/nonexistent/vif-flock' does not exist or is not executable"))
    }

    @Test func aCloneRestoredOntoTheHoldBridgeKeepsItsOwnMACThere() throws {
        let config = XenDomainConfig.parent(Self.spec, mac: Self.mac)
        defer { withExtendedLifetime(config) {} }
        config.deriveClone(name: "flock-web-h0ld", mac: XenMAC("00:16:3e:11:22:44")!, holdBridge: "xenhold0")
        let nic = config.pointer.pointee.nics[0]
        #expect(String(cString: try #require(nic.bridge)) == "xenhold0")
        #expect(XenMAC(nic.mac).text == "00:16:3e:11:22:44")
    }

    @Test func anHVMCloneGetsANewVMGenerationID() {
        let config = XenDomainConfig()
        defer { withExtendedLifetime(config) {} }
        libxl_domain_build_info_init_type(&config.pointer.pointee.b_info, LIBXL_DOMAIN_TYPE_HVM)
        config.pointer.pointee.c_info.type = LIBXL_DOMAIN_TYPE_HVM
        #expect(libxl_ms_vm_genid_is_zero(&config.pointer.pointee.b_info.u.hvm.ms_vm_genid))
        config.deriveClone(name: "flock-web-h1", mac: Self.mac)
        #expect(!libxl_ms_vm_genid_is_zero(&config.pointer.pointee.b_info.u.hvm.ms_vm_genid))
    }

    @Test func specProblemsAreAllReported() {
        var spec = Self.spec
        spec.kernel = "vmlinuz"
        spec.memoryMiB = 8
        spec.bridge = "a bridge"
        spec.mac = "nope"
        spec.address = "10.78.0"
        let problems = spec.problems(checkFiles: false)
        #expect(problems.count == 5, "\(problems)")
        #expect(problems.contains { $0.contains("kernel 'vmlinuz' must be an absolute path") })
        #expect(problems.contains { $0.contains("mac 'nope'") })
    }
}
