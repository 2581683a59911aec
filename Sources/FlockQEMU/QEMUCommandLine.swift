/// Builds QEMU's argument array for a VM; no shell ever sees it.
///
/// Parents and their clones must agree on the machine shape (machine type, RAM block name and
/// size, devices and their order) for migration to restore, so both come from here.
struct QEMUCommandLine {
    /// How guest RAM is backed.
    enum Memory: Hashable {
        /// A parent: a tmpfs file mapped `share=on`, so a frozen copy can be taken and mapped by clones.
        case shared(path: String)
        /// A lazy clone: the frozen copy mapped `share=off`: private, copy-on-write, loaded on touch.
        case privateCopy(path: String)
        /// An eager or cold clone: ordinary anonymous memory.
        case anonymous
    }

    /// How the NIC is connected.
    enum Network: Hashable {
        /// User-mode networking forwarding `127.0.0.1:hostPort` to the guest's app port.
        case user(hostPort: Int, guestPort: Int)
        /// A TAP device created beforehand on a bridge.
        case tap(device: String)
    }

    var name: String
    var spec: VMSpec
    var accelerator: Accelerator
    var paths: VMPaths
    var memory: Memory
    var network: Network
    var mac: String
    /// The VM's own disk overlay (never the spec's image, which all VMs share read-only).
    var disk: String? = nil
    /// Restore from a migration stream (`-incoming defer`) instead of booting.
    var incoming = false
    /// QEMU's `-cpu`; nil for the driver's default (`host` under KVM, `max` under TCG).
    var cpuModel: String? = nil
    /// Detach from the launcher, so VMs outlive the driver process and can be adopted later.
    var daemonize = true

    /// The console ring buffer's size (QEMU wants a power of two): the last 64 KiB the guest wrote.
    static let consoleBytes = 65536

    /// The CPU model when none is configured: all the host's features under KVM, all of TCG's.
    static func defaultCPUModel(_ accelerator: Accelerator) -> String { accelerator == .kvm ? "host" : "max" }

    var arguments: [String] {
        var args: [String] = ["-name", "\(name),debug-threads=on"]
        args += ["-machine", "\(spec.machine),memory-backend=mem0"]
        args += ["-accel", accelerator == .kvm ? "kvm" : "tcg"]
        args += ["-cpu", cpuModel ?? Self.defaultCPUModel(accelerator)]
        args += ["-m", "\(spec.memoryMiB)M", "-smp", "\(spec.cpus)"]
        switch memory {
        case .shared(let path):
            args += ["-object", "memory-backend-file,id=mem0,size=\(spec.memoryMiB)M,mem-path=\(path),share=on"]
        case .privateCopy(let path):
            args += ["-object", "memory-backend-file,id=mem0,size=\(spec.memoryMiB)M,mem-path=\(path),share=off"]
        case .anonymous:
            args += ["-object", "memory-backend-ram,id=mem0,size=\(spec.memoryMiB)M"]
        }
        args += ["-nodefaults", "-no-user-config", "-display", "none"]
        // A VM restored from a migration stream never boots, so it gets no kernel: QEMU reads
        // `-kernel` whole into memory for fw_cfg (13.5 MiB of a clone's 37 MiB idle PSS with the
        // guest image's kernel, measured), and the stream does not carry it (fw_cfg's blobs are
        // not RAM blocks). Should the guest reset, it finds no kernel and stays down, so its
        // health checks fail and it is replaced, rather than rebooting as an unidentified parent.
        if let kernel = spec.kernel, !incoming {
            args += ["-kernel", kernel]
            if let initrd = spec.initrd { args += ["-initrd", initrd] }
            args += ["-append", spec.append ?? "console=ttyS0"]
        }
        if let disk = disk ?? spec.disk {
            args += ["-drive", "file=\(disk),format=\(DiskImages.format(disk)),if=virtio,id=disk0"]
        }
        // The guest writes its console, so it goes to a ring buffer inside QEMU, never a file
        // that could grow without bound; the driver reads its tail over QMP (`ringbuf-read`).
        args += ["-chardev", "ringbuf,id=console,size=\(Self.consoleBytes)", "-serial", "chardev:console"]
        args += ["-qmp", "unix:\(paths.qmpSocket),server=on,wait=off"]
        args += [
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", "socket,id=agent,path=\(paths.agentSocket),server=on,wait=off",
            "-device", "virtserialport,bus=vser0.0,chardev=agent,name=org.flock.agent",
        ]
        switch network {
        case .user(let hostPort, let guestPort):
            // restrict=on: the guest reaches nothing outside, above all not 10.0.2.2, which is the
            // host's loopback (flockd's API, other VMs' forwards); the host forward still works.
            args += ["-netdev", "user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:\(hostPort)-:\(guestPort)"]
        case .tap(let device):
            args += ["-netdev", "tap,id=net0,ifname=\(device),script=no,downscript=no"]
        }
        args += ["-device", "virtio-net-pci,id=nic0,netdev=net0,mac=\(mac)"]
        // Restored clones get a fresh generation id, which Linux ≥ 5.18 uses to reseed its RNG.
        args += ["-device", "vmgenid,guid=auto"]
        args += ["-device", "virtio-rng-pci"]
        if incoming { args += ["-S", "-incoming", "defer"] }
        args += ["-pidfile", paths.pidFile]
        if daemonize {
            // With -D, a daemonized QEMU keeps its stderr (the log file) instead of /dev/null,
            // so why a restore or device failed is still on record.
            args += ["-daemonize", "-D", paths.log]
        }
        return args
    }
}
