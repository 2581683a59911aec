import Foundation

/// Writes one line to standard error.
public func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// An operational failure: the message is printed as is and the exit code is 1.
public struct CLIFailure: Error {
    public var message: String
    public init(_ message: String) { self.message = message }
}
