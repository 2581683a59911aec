import CXenLight
import FlockCore
import Foundation
import Testing

@testable import FlockXen

/// The xenstore contract with the guest agent: key paths, the identity JSON, the reply.
@Suite struct XenIdentityTests {
    @Test func keysLiveUnderTheGuestsHome() {
        #expect(XenIdentityKeys.identity(7) == "/local/domain/7/flock/identity")
        #expect(XenIdentityKeys.ack(7) == "/local/domain/7/data/flock-ack")
        #expect(XenIdentityKeys.record(7) == "/local/domain/7/flock/record")
    }

    @Test func theIdentityValueIsTheAgentsIdentityMessage() throws {
        let record = XenDomainRecord(
            name: "flock-web-a1", pool: "web", role: .clone,
            lineage: Instance.Lineage(parent: "web-parent", generation: 3, mode: .eager),
            spec: XenVMSpec(
                name: "flock-web-a1", pool: "web", kernel: "/k", mac: "00:16:3e:00:00:09", address: "10.78.0.9",
                prefix: 24),
            generation: 0, createdAt: Date())
        let identity = record.freshIdentity()
        let json = try #require(try JSONSerialization.jsonObject(with: identity.json) as? [String: Any])
        #expect(json["type"] as? String == "identity")
        #expect(json["clone_id"] as? String == "flock-web-a1")
        #expect(json["hostname"] as? String == "flock-web-a1")
        #expect(json["generation"] as? Int == 3)
        #expect((json["time_unix_ns"] as? Int ?? 0) > 1_700_000_000_000_000_000)
        #expect(Data(base64Encoded: json["entropy"] as? String ?? "")?.count == 256)
        let network = try #require(json["network"] as? [String: Any])
        #expect(network["mac"] as? String == "00:16:3e:00:00:09")
        #expect(network["address"] as? String == "10.78.0.9")
        #expect(network["prefix"] as? Int == 24)
        #expect(network["gateway"] as? String == "10.78.0.1")
        #expect(!String(decoding: identity.json, as: UTF8.self).contains("\n"), "one JSON object, no newline")
    }

    @Test func onlyAnAckForThisCloneCounts() {
        let identity = CloneIdentity.fresh(cloneID: "flock-web-a1", generation: 3)
        func reply(_ text: String?) -> XenAgentReply { XenAgentReply(text.map { Data($0.utf8) }, for: identity) }
        #expect(reply(nil) == .pending)
        #expect(reply("not json") == .pending)
        #expect(reply(#"{"type":"ack","clone_id":"flock-web-zz","applied":[]}"#) == .pending)
        #expect(reply(#"{"type":"ack","clone_id":"flock-web-a1","generation":2}"#) == .pending)
        #expect(
            reply(
                #"{"type":"ack","clone_id":"flock-web-a1","hostname":"flock-web-a1","applied":["entropy","clock"]}\#n"#)
                == .acknowledged(applied: ["entropy", "clock"]))
        #expect(
            reply(#"{"type":"ack","clone_id":"flock-web-a1","generation":3,"applied":[]}"#)
                == .acknowledged(applied: []))
        #expect(reply(#"{"type":"error","message":"bad entropy"}"#) == .failed("bad entropy"))
        #expect(
            reply(
                #"{"type":"error","message":"clone hook 20-x failed (exit 3)","hooks":[{"name":"20-x","status":"exit 3","exit_status":3,"output":"no\u001b[2J"}]}"#
            ) == .failed(#"clone hook 20-x failed (exit 3); output: no\u001b[2J"#),
            "a failed hook's output is part of the failure, escaped")
    }

    @Test func lazyClonesAreRefusedWithWhatTheHostHas() {
        var physinfo = libxl_physinfo()
        libxl_physinfo_init(&physinfo)
        defer { libxl_physinfo_dispose(&physinfo) }
        physinfo.cap_hvm = true
        physinfo.cap_hap = true
        physinfo.hw_cap.3 = 1 << 2  // AMD SVM
        let amd = XenForkSupport(physinfo).lazyError
        #expect(amd.isUnsupported)
        #expect(
            amd.message
                == "lazy clones need Xen VM forking (HVM on Intel VMX with HAP); this host has HVM yes, HAP yes, CPU AMD SVM; use mode: eager"
        )
        physinfo.hw_cap.3 = 0
        physinfo.hw_cap.1 = 1 << 5  // Intel VMX
        physinfo.cap_hap = false
        #expect(XenForkSupport(physinfo).lazyError.message.contains("this host has HVM yes, HAP no, CPU Intel VMX;"))
        physinfo.cap_hap = true
        #expect(XenForkSupport(physinfo).lazyError.message.contains("does not implement VM forking"))
    }

    @Test func connectingOnAHostWithoutXenThrowsTheNotRunningError() throws {
        try #require(
            !FileManager.default.fileExists(atPath: XenContext.privcmd),
            "this test checks the host without Xen; here /dev/xen/privcmd exists")
        #expect {
            _ = try XenDriver.connect(configuration: XenDriverConfiguration(stateRoot: "/tmp/flock-xen-test"))
        } throws: { error in
            guard let error = error as? XenError else { return false }
            return error.isNotRunning && error.message.hasPrefix("Xen is not running on this host: ")
                && error.message.contains("/dev/xen/privcmd does not exist")
                && error.message.contains("Boot the host into the Xen hypervisor and run Flock in dom0 as root")
        }
    }
}
