/// A vif's MAC address. Flock's are in Xen's OUI, 00:16:3e, like the ones `xl` makes up.
struct XenMAC: Sendable, Hashable {
    var bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)

    init(_ bytes: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8)) { self.bytes = bytes }

    /// Parses `00:16:3e:12:34:56` (either case); nil for anything else.
    init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 6 else { return nil }
        var values: [UInt8] = []
        for part in parts {
            guard part.utf8.count == 2, let value = UInt8(part, radix: 16) else { return nil }
            values.append(value)
        }
        bytes = (values[0], values[1], values[2], values[3], values[4], values[5])
    }

    /// A random MAC in Xen's OUI that is not in `used` (lowercase text).
    static func random(excluding used: Set<String>) -> XenMAC {
        var generator = SystemRandomNumberGenerator()
        while true {
            let mac = XenMAC(
                (
                    0x00, 0x16, 0x3e, UInt8.random(in: 0...0x7f, using: &generator),
                    UInt8.random(in: 0...255, using: &generator), UInt8.random(in: 0...255, using: &generator)
                ))
            if !used.contains(mac.text) { return mac }
        }
    }

    var text: String {
        [bytes.0, bytes.1, bytes.2, bytes.3, bytes.4, bytes.5].map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    static func == (lhs: XenMAC, rhs: XenMAC) -> Bool { lhs.text == rhs.text }
    func hash(into hasher: inout Hasher) { hasher.combine(text) }
}
