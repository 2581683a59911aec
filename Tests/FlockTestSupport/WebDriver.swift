import FlockSystem
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Debian's headless Chromium, driven through chromedriver's W3C WebDriver HTTP protocol
/// directly: one small client instead of Selenium and a Python runtime. chromedriver listens on
/// loopback only (its default); each browser gets a profile in the test's scratch directory.
public final class WebDriver: Sendable {
    public static let chromium = "/usr/bin/chromium"
    public static let chromedriver = "/usr/bin/chromedriver"
    /// The W3C name of an element reference in a response.
    static let elementKey = "element-6066-11e4-a52e-4f735466cecf"

    let driver: Child
    let port: Int
    let session: String

    private init(driver: Child, port: Int, session: String) {
        self.driver = driver
        self.port = port
        self.session = session
    }

    /// Starts chromedriver and one headless Chromium session, runs `body`, then ends both
    /// (the session first, so that Chromium exits with it rather than outlive chromedriver).
    public static func with<T>(
        in scratch: Scratch, width: Int = 1280, height: Int = 900, _ body: (WebDriver) async throws -> T
    ) async throws -> T {
        let browser = try await start(in: scratch, width: width, height: height)
        do {
            let result = try await body(browser)
            await browser.close()
            return result
        } catch {
            await browser.close()
            throw error
        }
    }

    static func start(in scratch: Scratch, width: Int, height: Int) async throws -> WebDriver {
        for binary in [chromium, chromedriver] where !FileManager.default.isExecutableFile(atPath: binary) {
            throw WebDriverError("\(binary) is not installed; run 'bash Deploy/setup.sh' (chromium, chromium-driver)")
        }
        let port = try freeLoopbackPort()
        let driver = try await Child.start(
            URL(fileURLWithPath: chromedriver), ["--port=\(port)"], in: scratch, name: "chromedriver")
        var problem = "no answer"
        let ready = await eventually(timeout: .seconds(20), every: .milliseconds(100)) {
            do {
                let status = try await call("GET", port, "/status", nil) as? [String: Any]
                problem = "status \(status ?? [:])"
                return (status?["ready"] as? Bool) == true
            } catch {
                problem = "\(error)"
                return false
            }
        }
        guard ready else {
            throw WebDriverError("chromedriver did not become ready (\(problem)): \(driver.stdout)\(driver.stderr)")
        }
        let capabilities: [String: Any] = [
            "capabilities": [
                "alwaysMatch": [
                    "browserName": "chrome",
                    "goog:chromeOptions": [
                        "binary": chromium,
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=\(width),\(height)",
                            "--user-data-dir=\(scratch.path("chromium-profile"))", "--no-first-run",
                        ],
                    ],
                ]
            ]
        ]
        let created = try await call("POST", port, "/session", capabilities)
        guard let session = (created as? [String: Any])?["sessionId"] as? String else {
            throw WebDriverError("chromedriver made no session: \(created ?? "nothing")")
        }
        return WebDriver(driver: driver, port: port, session: session)
    }

    /// Ends the session (Chromium quits) and stops chromedriver.
    public func close() async {
        _ = try? await Self.call("DELETE", port, "/session/\(session)", nil)
        driver.signal(SIGTERM)
        _ = await driver.waitForExit(timeout: .seconds(10))
    }

    public func navigate(_ url: String) async throws {
        _ = try await command("POST", "url", ["url": url])
    }

    /// Runs `script` (a function body; `return` gives the value) in the page and decodes what it returns.
    public func execute<T: Decodable>(_ script: String, as type: T.Type = T.self) async throws -> T {
        let value = try await command("POST", "execute/sync", ["script": script, "args": [Any]()])
        let data = try JSONSerialization.data(withJSONObject: ["value": value ?? NSNull()])
        do {
            return try JSONDecoder().decode(Box<T>.self, from: data).value
        } catch {
            throw WebDriverError("the script's result \(value ?? "null") is not a \(T.self): \(script)")
        }
    }

    /// Waits until `script` returns true in the page.
    public func wait(
        timeout: Duration = .seconds(20), until script: String
    ) async throws -> Bool {
        try await eventually(timeout: timeout, every: .milliseconds(200)) { try await execute(script, as: Bool.self) }
    }

    /// The element matching a CSS selector.
    public func element(_ css: String) async throws -> String {
        let value = try await command("POST", "element", ["using": "css selector", "value": css])
        guard let id = (value as? [String: Any])?[Self.elementKey] as? String else {
            throw WebDriverError("no element \(css): \(value ?? "null")")
        }
        return id
    }

    public func click(_ css: String) async throws {
        _ = try await command("POST", "element/\(try await element(css))/click", [String: Any]())
    }

    public func type(_ text: String, into css: String) async throws {
        _ = try await command("POST", "element/\(try await element(css))/value", ["text": text])
    }

    /// The rendered text of the element matching `css`.
    public func text(_ css: String) async throws -> String {
        let value = try await command("GET", "element/\(try await element(css))/text", nil)
        return value as? String ?? ""
    }

    /// A PNG of the viewport.
    public func screenshot() async throws -> Data {
        let value = try await command("GET", "screenshot", nil)
        guard let text = value as? String, let png = Data(base64Encoded: text) else {
            throw WebDriverError("the screenshot was not base64")
        }
        return png
    }

    private func command(_ method: String, _ path: String, _ body: [String: Any]?) async throws -> Any? {
        try await Self.call(method, port, "/session/\(session)/\(path)", body)
    }

    /// One WebDriver request and its response's `value`; a W3C error
    /// (`{"value": {"error": …, "message": …}}`) is thrown with chromedriver's message. Through
    /// FlockSystem's `PlainHTTP`: FoundationNetworking's libcurl refuses chromedriver's headers.
    private static func call(
        _ method: String, _ port: Int, _ path: String, _ body: [String: Any]?
    ) async throws
        -> Any?
    {
        let text = try body.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) }
        let response = try await PlainHTTP.request(method, port: port, path, body: text, timeout: .seconds(60))
        let value = ((try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any])?["value"]
        if let failure = value as? [String: Any], let error = failure["error"] as? String {
            throw WebDriverError("\(method) \(path): \(error): \(failure["message"] as? String ?? "")")
        }
        guard response.status == 200 else { throw WebDriverError("\(method) \(path): \(response.text)") }
        return value is NSNull ? nil : value
    }

    private struct Box<T: Decodable>: Decodable { var value: T }
}

/// A WebDriver failure, with what chromedriver said.
public struct WebDriverError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
