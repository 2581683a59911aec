/// Serialises the guest programs' JSON: the agent's replies and identity file, the demo app's
/// responses. Each is built from a few known fields, so a tiny writer that only has to escape
/// strings correctly is all they need.
public enum JSONWriter {
    /// One reply field; the protocol only ever sends strings, integers, nulls, string lists and
    /// lists of flat objects of those (the clone hooks' results).
    public enum Field {
        case string(String)
        case optionalString(String?)
        case integer(Int64)
        case strings([String])
        case objects([[(String, Field)]])
    }

    public static func object(_ fields: [(String, Field)]) -> String {
        var out = "{"
        for (i, (key, value)) in fields.enumerated() {
            if i > 0 { out += "," }
            out += quote(key) + ":"
            switch value {
            case .string(let s): out += quote(s)
            case .optionalString(let s): out += s.map(quote) ?? "null"
            case .integer(let n): out += String(n)
            case .strings(let list): out += "[" + list.map(quote).joined(separator: ",") + "]"
            case .objects(let list): out += "[" + list.map(object).joined(separator: ",") + "]"
            }
        }
        return out + "}"
    }

    /// Escapes quotes, backslashes and control characters; other text passes through as UTF-8.
    public static func quote(_ s: String) -> String {
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
}
