/// Writing and reading the little JSON the app deals with. Output is a handful of known fields;
/// input is only /run/flock/identity.json, a flat object of scalars written by flock-agent. The
/// reader accepts exactly that shape and returns nil for anything else (the app then reports
/// no identity rather than guessing).
enum JSONText {
    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A scalar from a flat object: strings decoded, numbers and literals as their text.
    enum Scalar: Equatable {
        case string(String)
        case literal(String)
    }

    static func parseFlatObject(_ bytes: [UInt8]) -> [String: Scalar]? {
        var i = 0
        func skip() { while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 } }
        func string() -> String? {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            i += 1
            var out: [UInt8] = []
            while i < bytes.count {
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\"") { return String(validating: out, as: UTF8.self) }
                if c < 0x20 { return nil }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    continue
                }
                guard i < bytes.count else { return nil }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "u"):
                    guard i + 4 <= bytes.count,
                        let code = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16),
                        let scalar = Unicode.Scalar(code)
                    else { return nil }
                    i += 4
                    out += Array(String(Character(scalar)).utf8)
                default: return nil
                }
            }
            return nil
        }
        skip()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        var result: [String: Scalar] = [:]
        skip()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
            i += 1
        } else {
            while true {
                skip()
                guard let key = string() else { return nil }
                skip()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                skip()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: "\"") {
                    guard let value = string() else { return nil }
                    result[key] = .string(value)
                } else {
                    let start = i
                    while i < bytes.count,
                        bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: ".")
                            || (bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9"))
                            || (bytes[i] >= UInt8(ascii: "a") && bytes[i] <= UInt8(ascii: "z"))
                    {
                        i += 1
                    }
                    guard i > start else { return nil }
                    result[key] = .literal(String(decoding: bytes[start..<i], as: UTF8.self))
                }
                skip()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") {
                    i += 1
                    continue
                }
                guard bytes[i] == UInt8(ascii: "}") else { return nil }
                i += 1
                break
            }
        }
        skip()
        return i == bytes.count ? result : nil
    }
}
