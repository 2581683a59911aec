import CXenLight

/// Whether this host could fork VMs lazily (Xen's `xc_memshr_fork`), read from libxl's physinfo.
///
/// VM forking shares the parent's memory copy-on-write; Xen implements it only for HVM guests
/// on Intel VMX with HAP (EPT), and only when built with mem_sharing (CONFIG_MEM_SHARING).
struct XenForkSupport: Sendable, Hashable {
    var hvm: Bool
    var hap: Bool
    var vmx: Bool
    var svm: Bool

    /// `hw_cap` holds the boot CPU's feature words in Xen's featureset order: word 1 is CPUID
    /// leaf 1 ECX (VMX is bit 5), word 3 is leaf 0x80000001 ECX (SVM is bit 2).
    init(_ physinfo: libxl_physinfo) {
        hvm = physinfo.cap_hvm
        hap = physinfo.cap_hap
        vmx = physinfo.hw_cap.1 & (1 << 5) != 0
        svm = physinfo.hw_cap.3 & (1 << 2) != 0
    }

    /// What the host has, for the error message, e.g. `HVM yes, HAP yes, CPU AMD SVM`.
    var summary: String {
        let cpu = vmx ? "Intel VMX" : svm ? "AMD SVM" : "no hardware virtualization"
        return "HVM \(hvm ? "yes" : "no"), HAP \(hap ? "yes" : "no"), CPU \(cpu)"
    }

    /// The error a lazy clone request gets on this host. This driver does not implement forking,
    /// so it is always an error; the text says what the host lacks, or that the driver does.
    var lazyError: XenError {
        let prefix = "lazy clones need Xen VM forking (HVM on Intel VMX with HAP); this host has \(summary)"
        if hvm && hap && vmx {
            return .unsupported(
                "\(prefix), but Flock's Xen driver does not implement VM forking (xc_memshr_fork) yet; use mode: eager")
        }
        return .unsupported("\(prefix); use mode: eager")
    }
}
