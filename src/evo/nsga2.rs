//! NSGA-II building blocks (Deb et al., IEEE TEVC 2002): constraint
//! domination, fast non-dominated sorting, crowding distance, crowded
//! tournament, survivor selection and a non-dominated archive.
//!
//! Like the rest of `evo`, these are free functions over objective vectors,
//! not a framework: a study owns its genomes and calls them. Conventions:
//! every objective is **minimised**; `violation[i] ≥ 0` is the total amount
//! by which individual `i` breaks hard constraints (0 = feasible). Constraint
//! domination (Deb 2000): a feasible individual beats an infeasible one, of
//! two infeasible ones the smaller violation wins, and two feasible ones
//! compare by Pareto dominance. All ties break by index, so results do not
//! depend on anything but the inputs.

use rand::Rng;
use std::cmp::Ordering;

/// `a` Pareto-dominates `b`: no worse in every objective, better in one.
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        if x < y {
            strictly = true;
        }
    }
    strictly
}

/// Constraint domination of `i` over `j`.
pub fn constrained_dominates(objs: &[Vec<f64>], violation: &[f64], i: usize, j: usize) -> bool {
    let (vi, vj) = (violation[i], violation[j]);
    match (vi > 0.0, vj > 0.0) {
        (false, true) => true,
        (true, false) => false,
        (true, true) => vi < vj,
        (false, false) => dominates(&objs[i], &objs[j]),
    }
}

/// Fast non-dominated sort under constraint domination: fronts of indices,
/// best first, each in ascending index order.
pub fn non_dominated_sort(objs: &[Vec<f64>], violation: &[f64]) -> Vec<Vec<usize>> {
    let n = objs.len();
    let mut dominated_by_me: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut count = vec![0usize; n];
    for i in 0..n {
        for j in (i + 1)..n {
            if constrained_dominates(objs, violation, i, j) {
                dominated_by_me[i].push(j);
                count[j] += 1;
            } else if constrained_dominates(objs, violation, j, i) {
                dominated_by_me[j].push(i);
                count[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominated_by_me[i] {
                count[j] -= 1;
                if count[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of `front` (same order). Boundary points
/// of every objective get infinity; interior points the sum over objectives of
/// the normalised gap between their neighbours.
pub fn crowding_distance(objs: &[Vec<f64>], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    let mut dist = vec![0.0; n];
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let m = objs[front[0]].len();
    let mut order: Vec<usize> = (0..n).collect();
    // `k` indexes the objective inside each member's vector, not `objs`.
    #[allow(clippy::needless_range_loop)]
    for k in 0..m {
        order.sort_by(|&a, &b| {
            objs[front[a]][k]
                .total_cmp(&objs[front[b]][k])
                .then(front[a].cmp(&front[b]))
        });
        let lo = objs[front[order[0]]][k];
        let hi = objs[front[order[n - 1]]][k];
        dist[order[0]] = f64::INFINITY;
        dist[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if span <= 0.0 {
            continue;
        }
        for w in 1..n - 1 {
            let gap = objs[front[order[w + 1]]][k] - objs[front[order[w - 1]]][k];
            dist[order[w]] += gap / span;
        }
    }
    dist
}

/// Rank (front number, 0 = best) and crowding distance of every individual.
pub fn rank_and_crowding(objs: &[Vec<f64>], violation: &[f64]) -> (Vec<usize>, Vec<f64>) {
    let n = objs.len();
    let mut rank = vec![0usize; n];
    let mut crowd = vec![0.0; n];
    for (r, front) in non_dominated_sort(objs, violation).iter().enumerate() {
        for (&i, d) in front.iter().zip(crowding_distance(objs, front)) {
            rank[i] = r;
            crowd[i] = d;
        }
    }
    (rank, crowd)
}

/// The crowded-comparison order: lower rank, then larger crowding distance,
/// then lower index.
pub fn crowded_cmp(rank: &[usize], crowd: &[f64], a: usize, b: usize) -> Ordering {
    rank[a]
        .cmp(&rank[b])
        .then(crowd[b].total_cmp(&crowd[a]))
        .then(a.cmp(&b))
}

/// Binary crowded tournament: two uniform draws, the crowded-better wins.
pub fn crowded_tournament<R: Rng + ?Sized>(rank: &[usize], crowd: &[f64], rng: &mut R) -> usize {
    let a = rng.random_range(0..rank.len());
    let b = rng.random_range(0..rank.len());
    if crowded_cmp(rank, crowd, a, b) == Ordering::Greater {
        b
    } else {
        a
    }
}

/// NSGA-II environmental selection: the `n` survivors of a combined
/// population, whole fronts first, the last front cut by crowding distance.
/// Returned in selection order.
pub fn select_survivors(objs: &[Vec<f64>], violation: &[f64], n: usize) -> Vec<usize> {
    let mut chosen = Vec::with_capacity(n);
    for front in non_dominated_sort(objs, violation) {
        if chosen.len() + front.len() <= n {
            chosen.extend(&front);
        } else {
            let crowd = crowding_distance(objs, &front);
            let mut order: Vec<usize> = (0..front.len()).collect();
            order.sort_by(|&a, &b| crowd[b].total_cmp(&crowd[a]).then(front[a].cmp(&front[b])));
            chosen.extend(order.iter().take(n - chosen.len()).map(|&w| front[w]));
        }
        if chosen.len() >= n {
            break;
        }
    }
    chosen
}

/// A set of mutually non-dominated feasible entries with their objectives.
/// Insertion keeps it non-dominated; an entry equal in every objective to a
/// member is not added (the first one found is kept), so the archive is a
/// pure function of the insertion order.
#[derive(Clone, Debug, Default)]
pub struct Archive<T> {
    entries: Vec<(Vec<f64>, T)>,
}

impl<T> Archive<T> {
    pub fn new() -> Self {
        Archive {
            entries: Vec::new(),
        }
    }

    /// Offer an entry; returns whether it was added.
    pub fn insert(&mut self, objs: Vec<f64>, item: T) -> bool {
        if self
            .entries
            .iter()
            .any(|(o, _)| dominates(o, &objs) || o == &objs)
        {
            return false;
        }
        self.entries.retain(|(o, _)| !dominates(&objs, o));
        self.entries.push((objs, item));
        true
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn entries(&self) -> &[(Vec<f64>, T)] {
        &self.entries
    }

    pub fn objectives(&self) -> Vec<Vec<f64>> {
        self.entries.iter().map(|(o, _)| o.clone()).collect()
    }

    /// Shrink to at most `cap` members by repeatedly dropping the member with
    /// the smallest crowding distance (ties: the later-inserted one), the
    /// standard bounded-archive rule; the extremes of each objective stay.
    pub fn truncate_crowded(&mut self, cap: usize) {
        while self.entries.len() > cap.max(1) {
            let objs = self.objectives();
            let all: Vec<usize> = (0..objs.len()).collect();
            let crowd = crowding_distance(&objs, &all);
            let worst = (0..crowd.len())
                .rev()
                .min_by(|&a, &b| crowd[a].total_cmp(&crowd[b]))
                .expect("non-empty");
            self.entries.remove(worst);
        }
    }

    /// Does some member dominate `objs`?
    pub fn dominates_point(&self, objs: &[f64]) -> bool {
        self.entries.iter().any(|(o, _)| dominates(o, objs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;
    use rand_xoshiro::Xoshiro256PlusPlus;

    fn v(xs: &[[f64; 2]]) -> Vec<Vec<f64>> {
        xs.iter().map(|x| x.to_vec()).collect()
    }

    #[test]
    fn sorts_into_hand_checked_fronts() {
        let objs = v(&[[1.0, 4.0], [2.0, 2.0], [4.0, 1.0], [3.0, 3.0], [5.0, 5.0]]);
        let fronts = non_dominated_sort(&objs, &[0.0; 5]);
        assert_eq!(fronts, vec![vec![0, 1, 2], vec![3], vec![4]]);
    }

    #[test]
    fn feasible_beats_infeasible_and_smaller_violation_wins() {
        let objs = v(&[[9.0, 9.0], [1.0, 1.0], [0.0, 0.0]]);
        let fronts = non_dominated_sort(&objs, &[0.0, 0.5, 2.0]);
        assert_eq!(fronts, vec![vec![0], vec![1], vec![2]]);
    }

    #[test]
    fn crowding_marks_boundaries_infinite_and_sums_gaps() {
        let objs = v(&[[0.0, 4.0], [1.0, 2.0], [4.0, 0.0]]);
        let d = crowding_distance(&objs, &[0, 1, 2]);
        assert!(d[0].is_infinite() && d[2].is_infinite());
        // (4 − 0)/4 + (4 − 0)/4 = 2.
        assert_eq!(d[1], 2.0);
    }

    #[test]
    fn survivors_take_whole_fronts_then_the_least_crowded() {
        let objs = v(&[[0.0, 4.0], [1.0, 3.0], [1.1, 2.9], [4.0, 0.0], [5.0, 5.0]]);
        let s = select_survivors(&objs, &[0.0; 5], 3);
        // Front 0 is {0,1,2,3}; boundaries 0 and 3 are infinite, then the
        // interior point with the larger gap.
        assert_eq!(s.len(), 3);
        assert!(s.contains(&0) && s.contains(&3));
        assert!(!s.contains(&4));
    }

    #[test]
    fn tournament_prefers_better_rank() {
        let rank = [0, 1];
        let crowd = [1.0, 1.0];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        let wins = (0..1000)
            .filter(|_| crowded_tournament(&rank, &crowd, &mut rng) == 0)
            .count();
        assert!(wins > 650, "{wins}");
    }

    #[test]
    fn truncation_keeps_the_extremes() {
        let mut a = Archive::new();
        for (i, x) in [0.0, 1.0, 1.1, 1.2, 4.0].into_iter().enumerate() {
            a.insert(vec![x, 4.0 - x], i);
        }
        a.truncate_crowded(3);
        let kept: Vec<usize> = a.entries().iter().map(|(_, i)| *i).collect();
        assert_eq!(kept.len(), 3);
        assert!(kept.contains(&0) && kept.contains(&4));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// The archive equals the brute-force non-dominated subset (up to
        /// duplicates), and every first-front member is undominated.
        #[test]
        fn archive_and_first_front_are_non_dominated(
            pts in prop::collection::vec(prop::collection::vec(0u8..5, 3), 1..20)
        ) {
            let objs: Vec<Vec<f64>> = pts
                .iter()
                .map(|p| p.iter().map(|&x| f64::from(x)).collect())
                .collect();
            let mut archive = Archive::new();
            for (i, o) in objs.iter().enumerate() {
                archive.insert(o.clone(), i);
            }
            let mut brute: Vec<Vec<f64>> = objs
                .iter()
                .filter(|o| !objs.iter().any(|p| dominates(p, o)))
                .cloned()
                .collect();
            brute.sort_by(|a, b| a.partial_cmp(b).unwrap());
            brute.dedup();
            let mut got = archive.objectives();
            got.sort_by(|a, b| a.partial_cmp(b).unwrap());
            prop_assert_eq!(got, brute);
            let front = &non_dominated_sort(&objs, &vec![0.0; objs.len()])[0];
            for &i in front {
                prop_assert!(!objs.iter().any(|p| dominates(p, &objs[i])));
            }
        }
    }
}
