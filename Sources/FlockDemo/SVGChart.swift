import Foundation

/// Draws the run as a small hand-written SVG: the request rate (left axis) and the serving
/// instances (right axis) over time, with the load step shaded. No dependencies, so the chart
/// opens in any browser and diffs as text.
public enum SVGChart {
    public static func render(samples: [DemoSample], stepStart: Double, stepEnd: Double, title: String) -> String {
        let width = 760.0, height = 360.0
        let left = 60.0, right = 60.0, top = 40.0, bottom = 50.0
        let plotW = width - left - right, plotH = height - top - bottom
        let maxT = max(samples.map(\.t).max() ?? 1, stepEnd, 1)
        let maxRate = niceCeiling(max(samples.map(\.requestRate).max() ?? 1, 1))
        let maxServing = Double(max(samples.map(\.serving).max() ?? 1, 1) + 1)
        func x(_ t: Double) -> Double { left + plotW * t / maxT }
        func yRate(_ r: Double) -> Double { top + plotH * (1 - r / maxRate) }
        func yServing(_ s: Double) -> Double { top + plotH * (1 - s / maxServing) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="22" text-anchor="middle" font-size="15">\(escape(title))</text>
            <rect x="\(f(x(stepStart)))" y="\(f(top))" width="\(f(max(0, x(stepEnd) - x(stepStart))))" height="\(f(plotH))" fill="#fde9c8"/>
            <text x="\(f((x(stepStart) + x(stepEnd)) / 2))" y="\(f(top + 14))" text-anchor="middle" fill="#a06000">load step</text>

            """
        // Axes and ticks.
        svg += line(left, top + plotH, left + plotW, top + plotH) + line(left, top, left, top + plotH)
        svg += line(left + plotW, top, left + plotW, top + plotH)
        for i in 0...5 {
            let t = maxT * Double(i) / 5
            svg += line(x(t), top + plotH, x(t), top + plotH + 4)
            svg +=
                "<text x=\"\(f(x(t)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\">\(Int(t.rounded()))</text>\n"
            let r = maxRate * Double(i) / 5
            svg +=
                "<text x=\"\(f(left - 6))\" y=\"\(f(yRate(r) + 4))\" text-anchor=\"end\" fill=\"#1f77b4\">\(Int(r.rounded()))</text>\n"
        }
        for s in 0...Int(maxServing) {
            svg +=
                "<text x=\"\(f(left + plotW + 6))\" y=\"\(f(yServing(Double(s)) + 4))\" fill=\"#d62728\">\(s)</text>\n"
        }
        svg +=
            "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">seconds since the load started</text>\n"
        svg +=
            "<text transform=\"translate(16 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\" fill=\"#1f77b4\">requests/s</text>\n"
        svg +=
            "<text transform=\"translate(\(f(width - 14)) \(f(top + plotH / 2))) rotate(90)\" text-anchor=\"middle\" fill=\"#d62728\">serving instances</text>\n"
        // Data.
        let rate = samples.map { "\(f(x($0.t))),\(f(yRate($0.requestRate)))" }.joined(separator: " ")
        svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"1.5\" points=\"\(rate)\"/>\n"
        // Serving is a count that changes in steps: draw it as a staircase.
        var stairs: [String] = []
        for (i, sample) in samples.enumerated() {
            if i > 0 { stairs.append("\(f(x(sample.t))),\(f(yServing(Double(samples[i - 1].serving))))") }
            stairs.append("\(f(x(sample.t))),\(f(yServing(Double(sample.serving))))")
        }
        svg +=
            "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"\(stairs.joined(separator: " "))\"/>\n"
        // Legend.
        svg += line(left + 10, top + plotH - 30, left + 30, top + plotH - 30, color: "#1f77b4")
        svg += "<text x=\"\(f(left + 35))\" y=\"\(f(top + plotH - 26))\">requests/s (HAProxy)</text>\n"
        svg += line(left + 10, top + plotH - 14, left + 30, top + plotH - 14, color: "#d62728")
        svg += "<text x=\"\(f(left + 35))\" y=\"\(f(top + plotH - 10))\">serving instances (flockd)</text>\n"
        svg += "</svg>\n"
        return svg
    }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, color: String = "#333") -> String {
        String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" ", x1, y1, x2, y2)
            + "stroke=\"\(color)\"/>\n"
    }

    /// 1, 2 or 5 times a power of ten at or above `value`, for round axis labels.
    static func niceCeiling(_ value: Double) -> Double {
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2.0, 5.0, 10.0] where step * magnitude >= value { return step * magnitude }
        return 10 * magnitude
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
