/// An element that knows which of two comes first out of a heap.
protocol HeapOrdered {
    static func before(_ x: Self, _ y: Self) -> Bool
}

/// A binary heap whose top is the element that comes `before` all others; the BPE learner (most
/// frequent pair first) and the BPE encoder (lowest merge rank first) both use it. The order is a
/// static requirement rather than a closure so that the hot loops specialize and inline it.
struct BinaryHeap<Element: HeapOrdered> {
    private var items: [Element] = []

    init() {}

    @inline(__always) private func before(_ x: Element, _ y: Element) -> Bool { Element.before(x, y) }

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ e: Element) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if !before(items[i], items[p]) { break }
            items.swapAt(i, p)
            i = p
        }
    }

    mutating func pop() -> Element? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < items.count && before(items[l], items[m]) { m = l }
                if r < items.count && before(items[r], items[m]) { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
