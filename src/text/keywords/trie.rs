//! The keyword index: a trie over the normalized keywords, flattened into arrays.

use std::collections::HashMap;

/// A trie over normalized keywords, flattened into arrays: from each start position the walk
/// follows the text only as far as some keyword does, so the cost per line barely depends on
/// how many keywords there are.
#[derive(Debug, Clone, Default)]
pub(super) struct Trie {
    /// The root's edges: thousands with a CJK list, and looked up at every position of every
    /// line, so hashed rather than searched.
    root: HashMap<char, u32, BuildCharHasher>,
    /// Per node: its edges (`edges[start..end]`, sorted by char) and the entries ending there.
    nodes: Vec<TrieNode>,
    edges: Vec<(char, u32)>,
    terms: Vec<u32>,
}

#[derive(Debug, Clone, Copy, Default)]
struct TrieNode {
    edges: (u32, u32),
    terms: (u32, u32),
}

impl Trie {
    /// Index `keys` (normalized keywords); walks report a key by its position in `keys`.
    pub fn build<'a>(keys: impl IntoIterator<Item = &'a str>) -> Trie {
        // Edges go into one map while building, then into sorted arrays: a map per node would
        // cost far more memory, and time per step.
        let mut children: HashMap<(u32, char), u32, BuildCharHasher> = HashMap::default();
        let mut node_count = 1u32;
        let mut ends: Vec<(u32, u32)> = vec![];
        for (e, key) in keys.into_iter().enumerate() {
            let mut node = 0u32;
            for c in key.chars() {
                node = *children.entry((node, c)).or_insert_with(|| {
                    node_count += 1;
                    node_count - 1
                });
            }
            ends.push((node, e as u32));
        }
        let mut edges: Vec<(u32, char, u32)> =
            children.into_iter().map(|((p, c), n)| (p, c, n)).collect();
        edges.sort_unstable();
        // Stable: entries ending at one node stay in file order.
        ends.sort_by_key(|&(node, _)| node);
        let mut trie = Trie {
            root: HashMap::default(),
            nodes: vec![TrieNode::default(); node_count as usize],
            edges: edges.iter().map(|&(_, c, n)| (c, n)).collect(),
            terms: ends.iter().map(|&(_, e)| e).collect(),
        };
        trie.root.extend(
            edges
                .iter()
                .take_while(|e| e.0 == 0)
                .map(|&(_, c, n)| (c, n)),
        );
        for (i, &(parent, ..)) in edges.iter().enumerate() {
            let span = &mut trie.nodes[parent as usize].edges;
            if span.1 == 0 {
                span.0 = i as u32;
            }
            span.1 = i as u32 + 1;
        }
        for (i, &(node, _)) in ends.iter().enumerate() {
            let span = &mut trie.nodes[node as usize].terms;
            if span.1 == 0 {
                span.0 = i as u32;
            }
            span.1 = i as u32 + 1;
        }
        trie
    }

    /// Call `on(key, length)` for every key that is a prefix of `text`.
    pub fn walk(&self, text: &[char], mut on: impl FnMut(usize, usize)) {
        let Some((first, rest)) = text.split_first() else {
            return;
        };
        let Some(&root_child) = self.root.get(first) else {
            return;
        };
        let mut node = root_child as usize;
        let mut len = 1;
        loop {
            let TrieNode {
                edges: (e0, e1),
                terms: (t0, t1),
            } = self.nodes[node];
            for &e in &self.terms[t0 as usize..t1 as usize] {
                on(e as usize, len);
            }
            let Some(c) = rest.get(len - 1) else {
                return;
            };
            let edges = &self.edges[e0 as usize..e1 as usize];
            match edges.binary_search_by_key(c, |&(c, _)| c) {
                Ok(k) => node = edges[k].1 as usize,
                Err(_) => return,
            }
            len += 1;
        }
    }
}

/// One multiply per char: the root map is keyed by chars the keyword file chose, and the
/// default SipHash (built against hash flooding from strangers' keys) would cost more than
/// the rest of a trie step.
#[derive(Debug, Clone, Copy, Default)]
struct BuildCharHasher;

impl std::hash::BuildHasher for BuildCharHasher {
    type Hasher = CharHasher;
    fn build_hasher(&self) -> CharHasher {
        CharHasher(0)
    }
}

struct CharHasher(u64);

impl std::hash::Hasher for CharHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        // Fibonacci hashing: spreads consecutive code points (a CJK list) over all the bits
        // hashbrown looks at (the top 7 for the control bytes, the bottom for the bucket).
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
