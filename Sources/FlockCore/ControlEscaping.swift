extension String {
    /// This text with every control character written as `\u` and four lowercase hex digits, the
    /// way JSON writes them: `ESC[2J` becomes `\u001b[2J`, a NUL `\u0000`, a newline `\u000a`.
    ///
    /// Guest-written text (a console tail, an agent's error) reaches events, logs and terminals;
    /// raw, it could clear an operator's screen, forge a log line or hide what came before it.
    /// C0 (including tab and newline, so that one event stays one line), DEL and C1 are escaped;
    /// everything else, backslashes and non-ASCII letters included, is kept as it is.
    public var escapingControlCharacters: String {
        guard unicodeScalars.contains(where: \.isControlCharacter) else { return self }
        var escaped = String.UnicodeScalarView()
        for scalar in unicodeScalars {
            guard scalar.isControlCharacter else {
                escaped.append(scalar)
                continue
            }
            let hex = String(scalar.value, radix: 16)
            escaped.append(contentsOf: "\\u\(String(repeating: "0", count: 4 - hex.count))\(hex)".unicodeScalars)
        }
        return String(escaped)
    }
}

extension Unicode.Scalar {
    /// C0 (U+0000–U+001F), DEL (U+007F) or C1 (U+0080–U+009F).
    fileprivate var isControlCharacter: Bool { value < 0x20 || (0x7F...0x9F).contains(value) }
}
