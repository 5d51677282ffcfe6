// A scan's candidate queue: the probed rows handed over least first.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <utility>
#include <vector>

namespace pg_ivf::core {

// Rows come out least first by `Before` (a total order that refines `Key`:
// key(a) < key(b) implies before(a, b)), exactly as from one binary heap over
// all of them, so the same operations give the same rows in the same order.
// A probe adds thousands of rows (2,300 on Fashion-MNIST at probes 8, 16,000
// on synth-1m-128 at probes 16) while a LIMIT 10 takes a few dozen, and a heap
// over all of them cost 4-11 % of a query (make_heap's sift-downs, cache
// misses on a large array).  So add() heapifies only the rows whose key is
// below about the 2 kHotRows-th smallest key (the hot prefix of one array) and leaves
// the rest unordered behind it, remembering the least of them; a row comes
// off the heap only while it is before that least cold row, and the first
// time it is not, the cold rows join the heap (what a plain heap costs).
template <class T, class Key, class Before>
class CandidateQueue {
public:
    // Rows a LIMIT is expected to take at most before the cold rows join in
    // (LIMIT 10 takes 15-40 with the rows whose quick key rose).
    static constexpr size_t kHotRows = 128;
    static constexpr size_t kSamples = 512;

    explicit CandidateQueue(std::vector<T> storage = {}) : all_(std::move(storage)) { all_.clear(); }

    // Adds the rows of `rows` and empties it (its memory is taken when the queue is empty).
    void add(std::vector<T>& rows) {
        if (all_.empty())
            all_.swap(rows);
        else
            all_.insert(all_.end(), rows.begin(), rows.end());
        rows.clear();
        split();
    }
    // Adds rows [first, last).
    template <class It>
    void add(It first, It last) {
        all_.insert(all_.end(), first, last);
        split();
    }
    bool empty() const { return all_.empty(); }
    size_t size() const { return all_.size(); }
    // The least row.
    const T& top() {
        if (hot_ == 0 || (hot_ < all_.size() && before_(cold_min_, all_.front()))) promote();
        return all_.front();
    }
    // Removes and returns the least row.
    T pop() {
        top();
        std::pop_heap(all_.begin(), all_.begin() + hot_, after_);
        T row = std::move(all_[hot_ - 1]);
        // the last cold row fills the hole (cold rows keep no order)
        if (hot_ < all_.size()) all_[hot_ - 1] = std::move(all_.back());
        all_.pop_back();
        --hot_;
        return row;
    }
    // Adds one row (a popped row whose key rose).
    void push(const T& row) {
        all_.push_back(row);
        if (hot_ + 1 < all_.size()) std::swap(all_[hot_], all_.back());
        ++hot_;
        std::push_heap(all_.begin(), all_.begin() + hot_, after_);
    }
    // Removes every row.
    void clear() {
        all_.clear();
        hot_ = 0;
    }
    // The array, for reuse once the queue is done with.
    std::vector<T>& storage() { return all_; }

private:
    struct After {
        Before before;
        bool operator()(const T& a, const T& b) const { return before(b, a); }
    };

    // Heapifies the rows whose key is below a threshold that about 2 kHotRows
    // rows stay under (every row if few), estimated from a sample of keys: a
    // poor estimate only costs time, since top() promotes the cold rows as
    // soon as the heap's least row is not before them.
    void split() {
        const size_t n = all_.size();
        if (n <= 4 * kHotRows) {
            promote();
            return;
        }
        const size_t samples = std::min<size_t>(n, kSamples);
        const size_t rank = std::max<size_t>(1, (2 * kHotRows * samples) / n);
        keys_.resize(samples);
        for (size_t i = 0; i < samples; ++i) {
            // NaN keys (never expected) count as +inf, so the selection stays well-defined
            const float k = key_(all_[i * n / samples]);
            keys_[i] = std::isnan(k) ? std::numeric_limits<float>::infinity() : k;
        }
        std::nth_element(keys_.begin(), keys_.begin() + (rank - 1), keys_.end());
        const float threshold = keys_[rank - 1];
        // one pass: hot rows to the front, and the least cold row (a row
        // swapped back behind the front was seen as cold already); its key
        // stays in a register, `before` only decides equal keys
        size_t hot = 0;
        const T* cold_min = nullptr;
        float cold_key = 0;
        for (size_t i = 0; i < n; ++i) {
            const float k = key_(all_[i]);
            if (k < threshold) {
                if (i != hot) std::swap(all_[i], all_[hot]);
                if (cold_min == &all_[hot]) cold_min = &all_[i];
                ++hot;
            } else if (cold_min == nullptr || k < cold_key || (!(k > cold_key) && before_(all_[i], *cold_min))) {
                cold_min = &all_[i];
                cold_key = k;
            }
        }
        hot_ = hot;
        if (hot_ == n || hot_ == 0) {
            promote();
            return;
        }
        cold_min_ = *cold_min;
        std::make_heap(all_.begin(), all_.begin() + hot_, after_);
    }
    // Every row into the heap.
    void promote() {
        hot_ = all_.size();
        std::make_heap(all_.begin(), all_.end(), after_);
    }

    std::vector<T> all_;  // [0, hot_): a heap, least on top; [hot_, size): cold rows, unordered
    size_t hot_ = 0;
    T cold_min_{};        // the least cold row, while there are cold rows
    std::vector<float> keys_;
    Key key_;
    Before before_;
    After after_;
};

}  // namespace pg_ivf::core
