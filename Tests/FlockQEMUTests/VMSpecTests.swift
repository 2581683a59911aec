import FlockCore
import Foundation
import Testing

@testable import FlockQEMU

@Suite struct VMSpecTests {
    @Test func aMissingKernelIsNamedWithAHint() {
        let spec = VMSpec(name: "p", pool: "web", kernel: "/nonexistent/vmlinuz")
        let problems = spec.problems()
        #expect(problems.count == 1)
        #expect(problems.first?.contains("/nonexistent/vmlinuz") == true)
        #expect(problems.first?.contains("build.sh") == true)
    }

    @Test func everyProblemIsReportedAtOnce() {
        let spec = VMSpec(
            name: "Bad_Name", pool: "", kernel: nil, initrd: "/x", memoryMiB: 1, cpus: 0,
            network: NetworkSpec(mode: .bridge, bridge: nil, cidr: "10.0.0.0/33"), machine: "q35;rm")
        let problems = spec.problems(checkFiles: false)
        #expect(problems.count == 9, "\(problems)")
        let error = #expect(throws: QEMUError.self) { try spec.validate(checkFiles: false) }
        #expect(error?.isInvalidSpec == true)
    }

    @Test func aDiskPathMustBeSafeForQEMUOptions() {
        #expect(VMSpec(name: "p", pool: "web", kernel: "/k", disk: "/d.qcow2").problems(checkFiles: false).isEmpty)
        #expect(VMSpec(name: "p", pool: "web", disk: "/a,b.qcow2").problems(checkFiles: false).count == 1)
        #expect(VMSpec(name: "p", pool: "web").problems(checkFiles: false) == ["one of 'kernel' or 'disk' is required"])
    }

    @Test func macsAreLocallyAdministeredUnicastAndUnique() throws {
        var seen: Set<String> = []
        for _ in 0..<200 {
            let mac = Networking.uniqueMAC(excluding: seen)
            let first = try #require(UInt8(mac.prefix(2), radix: 16))
            #expect(first & 0x02 == 0x02 && first & 0x01 == 0)
            #expect(!seen.contains(mac))
            seen.insert(mac)
        }
        #expect(Networking.tapName(for: "flock-web-abc").count <= 15)
    }

    @Test func unsafeStateRootsAreRefused() {
        #expect(QEMUDriverConfiguration.isSafePath("/run/flock/qemu"))
        #expect(!QEMUDriverConfiguration.isSafePath("/tmp/a,share=on"))
        #expect(!QEMUDriverConfiguration.isSafePath("/tmp/a b"))
        #expect(!QEMUDriverConfiguration.isSafePath("relative/path"))
    }
}

@Suite struct CommandLineTests {
    let spec = VMSpec(
        name: "p", pool: "web", kernel: "/img/vmlinuz", initrd: "/img/initrd.img", append: "console=ttyS0",
        memoryMiB: 256)
    let paths = VMPaths(root: "/run/flock/qemu", name: "flock-web-a1")

    func arguments(
        _ memory: QEMUCommandLine.Memory, incoming: Bool = false,
        network: QEMUCommandLine.Network = .user(hostPort: 40001, guestPort: 8080)
    ) -> [String] {
        QEMUCommandLine(
            name: "flock-web-a1", spec: spec, accelerator: .tcg, paths: paths, memory: memory, network: network,
            mac: "52:00:00:00:00:01", incoming: incoming
        ).arguments
    }

    func value(after flag: String, in args: [String], matching: String = "") -> String? {
        args.indices.filter { args[$0] == flag && $0 + 1 < args.count }.map { args[$0 + 1] }.first {
            matching.isEmpty || $0.contains(matching)
        }
    }

    @Test func parentsShareTheirRAMFile() {
        let args = arguments(.shared(path: paths.memory))
        #expect(
            value(after: "-object", in: args)
                == "memory-backend-file,id=mem0,size=256M,mem-path=\(paths.memory),share=on")
        #expect(value(after: "-machine", in: args) == "q35,memory-backend=mem0")
        #expect(value(after: "-accel", in: args) == "tcg")
        #expect(!args.contains("-incoming"))
        #expect(args.contains("-daemonize"))
    }

    @Test func lazyClonesMapTheSnapshotPrivatelyAndWaitForTheirState() {
        let args = arguments(.privateCopy(path: "/run/flock/qemu/snapshots/s/memory"), incoming: true)
        #expect(
            value(after: "-object", in: args)?.hasSuffix("mem-path=/run/flock/qemu/snapshots/s/memory,share=off")
                == true)
        #expect(value(after: "-incoming", in: args) == "defer")
        #expect(args.contains("-S"))
        #expect(value(after: "-device", in: args, matching: "vmgenid") == "vmgenid,guid=auto")
        // Restored, never booted: no kernel held in QEMU's memory for fw_cfg.
        #expect(!args.contains("-kernel") && !args.contains("-initrd") && !args.contains("-append"))
        #expect(arguments(.shared(path: "/run/flock/qemu/vms/p/memory")).contains("-kernel"))
    }

    @Test func eagerAndColdClonesUseAnonymousRAMWithTheSameBlockName() {
        #expect(value(after: "-object", in: arguments(.anonymous)) == "memory-backend-ram,id=mem0,size=256M")
    }

    @Test func devicesAndSocketsMatchTheAgentProtocol() {
        let args = arguments(.anonymous)
        #expect(value(after: "-netdev", in: args) == "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40001-:8080")
        #expect(value(after: "-qmp", in: args) == "unix:\(paths.qmpSocket),server=on,wait=off")
        #expect(
            value(after: "-chardev", in: args, matching: "agent")
                == "socket,id=agent,path=\(paths.agentSocket),server=on,wait=off")
        #expect(
            value(after: "-device", in: args, matching: "virtserialport")
                == "virtserialport,bus=vser0.0,chardev=agent,name=org.flock.agent")
        #expect(
            value(after: "-device", in: args, matching: "virtio-net")
                == "virtio-net-pci,id=nic0,netdev=net0,mac=52:00:00:00:00:01")
        #expect(value(after: "-pidfile", in: args) == paths.pidFile)
        #expect(value(after: "-append", in: args) == "console=ttyS0")
        let tap = arguments(.anonymous, network: .tap(device: "flk01234567"))
        #expect(value(after: "-netdev", in: tap) == "tap,id=net0,ifname=flk01234567,script=no,downscript=no")
    }
}
