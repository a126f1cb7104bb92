//! The plane geometry the detector and the cropper need: what rapidocr gets from OpenCV
//! (`minAreaRect`, `boxPoints`, `fillPoly`, `getPerspectiveTransform`), written for the few
//! points a text box has.

pub type Point = [f64; 2];

/// A rectangle at any angle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RotatedRect {
    pub center: Point,
    /// Unit vector along `width`; `height` runs along its perpendicular.
    pub axis: Point,
    pub width: f64,
    pub height: f64,
}

impl RotatedRect {
    pub fn corners(&self) -> [Point; 4] {
        let [ux, uy] = self.axis;
        let (vx, vy) = (-uy, ux);
        let (hw, hh) = (self.width / 2.0, self.height / 2.0);
        let [cx, cy] = self.center;
        [(-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0)].map(|(a, b)| {
            [
                cx + a * hw * ux + b * hh * vx,
                cy + a * hw * uy + b * hh * vy,
            ]
        })
    }

    pub fn short_side(&self) -> f64 {
        self.width.min(self.height)
    }
}

fn cross(o: Point, a: Point, b: Point) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Convex hull, counter-clockwise in a y-down frame (Andrew's monotone chain); collinear
/// points dropped.
pub fn convex_hull(mut pts: Vec<Point>) -> Vec<Point> {
    pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    pts.dedup();
    if pts.len() < 3 {
        return pts;
    }
    let mut hull: Vec<Point> = Vec::with_capacity(pts.len() + 1);
    for pass in 0..2 {
        let start = hull.len();
        let ordered: Box<dyn Iterator<Item = &Point>> = if pass == 0 {
            Box::new(pts.iter())
        } else {
            Box::new(pts.iter().rev())
        };
        for &p in ordered {
            while hull.len() >= start + 2
                && cross(hull[hull.len() - 2], hull[hull.len() - 1], p) <= 0.0
            {
                hull.pop();
            }
            hull.push(p);
        }
        // Each chain's last point starts the other chain.
        hull.pop();
    }
    hull
}

/// The smallest-area rectangle around `points` (one of its sides lies on a hull edge).
pub fn min_area_rect(points: Vec<Point>) -> Option<RotatedRect> {
    let hull = convex_hull(points);
    match hull.len() {
        0 => return None,
        1 => {
            return Some(RotatedRect {
                center: hull[0],
                axis: [1.0, 0.0],
                width: 0.0,
                height: 0.0,
            })
        }
        _ => {}
    }
    let mut best: Option<(f64, RotatedRect)> = None;
    for i in 0..hull.len() {
        let (a, b) = (hull[i], hull[(i + 1) % hull.len()]);
        let len = ((b[0] - a[0]).powi(2) + (b[1] - a[1]).powi(2)).sqrt();
        if len == 0.0 {
            continue;
        }
        let u = [(b[0] - a[0]) / len, (b[1] - a[1]) / len];
        let v = [-u[1], u[0]];
        let (mut lo_u, mut hi_u, mut lo_v, mut hi_v) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for p in &hull {
            let (pu, pv) = (p[0] * u[0] + p[1] * u[1], p[0] * v[0] + p[1] * v[1]);
            lo_u = lo_u.min(pu);
            hi_u = hi_u.max(pu);
            lo_v = lo_v.min(pv);
            hi_v = hi_v.max(pv);
        }
        let (w, h) = (hi_u - lo_u, hi_v - lo_v);
        if best.as_ref().is_none_or(|(area, _)| w * h < *area) {
            let (mu, mv) = ((lo_u + hi_u) / 2.0, (lo_v + hi_v) / 2.0);
            let rect = RotatedRect {
                center: [mu * u[0] + mv * v[0], mu * u[1] + mv * v[1]],
                axis: u,
                width: w,
                height: h,
            };
            best = Some((w * h, rect));
        }
    }
    best.map(|(_, r)| r)
}

/// The rectangle's corners as rapidocr orders them after `minAreaRect`: the two leftmost
/// (smaller y first) become top-left and bottom-left, the two rightmost top-right and
/// bottom-right; returned clockwise from top-left.
pub fn mini_box(rect: &RotatedRect) -> [Point; 4] {
    let mut p = rect.corners();
    p.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let (tl, bl) = if p[1][1] > p[0][1] {
        (p[0], p[1])
    } else {
        (p[1], p[0])
    };
    let (tr, br) = if p[3][1] > p[2][1] {
        (p[2], p[3])
    } else {
        (p[3], p[2])
    };
    [tl, tr, br, bl]
}

/// Clockwise from top-left by rapidocr's rule: sort by x, then each pair by y.
pub fn order_clockwise(pts: [Point; 4]) -> [Point; 4] {
    let mut p = pts;
    p.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let by_y = |a: Point, b: Point| if a[1] <= b[1] { (a, b) } else { (b, a) };
    let (tl, bl) = by_y(p[0], p[1]);
    let (tr, br) = by_y(p[2], p[3]);
    [tl, tr, br, bl]
}

/// The columns of row `y` inside the convex polygon `poly` (edges included), if any.
pub fn row_span(poly: &[Point], y: f64) -> Option<(f64, f64)> {
    let mut span: Option<(f64, f64)> = None;
    let mut add = |x: f64| {
        span = Some(match span {
            None => (x, x),
            Some((lo, hi)) => (lo.min(x), hi.max(x)),
        })
    };
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        if y < a[1].min(b[1]) || y > a[1].max(b[1]) {
            continue;
        }
        if a[1] == b[1] {
            add(a[0]);
            add(b[0]);
        } else {
            add(a[0] + (y - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
        }
    }
    span
}

/// `poly` (convex) grown by `d` with round corners, as pyclipper does it for rapidocr's
/// "unclip": corners cut to whole pixels first, the outline's points rounded to whole
/// pixels, arcs in steps of at most 0.25 px deviation. Emulating the rounding matters: a
/// line's box one pixel taller or shorter can change what the recognizer reads.
pub fn unclip(poly: &[Point], d: f64) -> Vec<Point> {
    let pts: Vec<Point> = poly.iter().map(|p| [p[0].trunc(), p[1].trunc()]).collect();
    let n = pts.len();
    if n < 3 || d <= 0.0 {
        return pts;
    }
    let centroid = [
        pts.iter().map(|p| p[0]).sum::<f64>() / n as f64,
        pts.iter().map(|p| p[1]).sum::<f64>() / n as f64,
    ];
    // The outward unit normal of edge i (from point i to i + 1).
    let normals: Vec<Point> = (0..n)
        .map(|i| {
            let (a, b) = (pts[i], pts[(i + 1) % n]);
            let len = distance(a, b);
            if len == 0.0 {
                return [0.0, 0.0];
            }
            let nrm = [(b[1] - a[1]) / len, -(b[0] - a[0]) / len];
            let mid = [(a[0] + b[0]) / 2.0, (a[1] + b[1]) / 2.0];
            let outward = (mid[0] - centroid[0]) * nrm[0] + (mid[1] - centroid[1]) * nrm[1];
            if outward < 0.0 {
                [-nrm[0], -nrm[1]]
            } else {
                nrm
            }
        })
        .collect();
    // Clipper's arc resolution for a tolerance of 0.25 px.
    let per_circle = (std::f64::consts::PI / (1.0 - 0.25 / d).clamp(-1.0, 1.0).acos())
        .min(d * std::f64::consts::PI);
    let per_rad = per_circle / (2.0 * std::f64::consts::PI);
    // Clipper rounds half away from zero, as f64::round does.
    let at = |p: Point, nrm: Point| [(p[0] + nrm[0] * d).round(), (p[1] + nrm[1] * d).round()];
    let mut out = Vec::new();
    for i in 0..n {
        let (prev, next) = (normals[(i + n - 1) % n], normals[i]);
        let sin = prev[0] * next[1] - prev[1] * next[0];
        let cos = prev[0] * next[0] + prev[1] * next[1];
        let angle = sin.atan2(cos);
        let steps = ((per_rad * angle.abs()).round() as usize).max(1);
        // Clipper steps by a whole circle's fraction, not by the corner's angle split evenly.
        let step = angle.signum() * 2.0 * std::f64::consts::PI / per_circle;
        for s in 0..steps {
            let (sa, ca) = (step * s as f64).sin_cos();
            let nrm = [prev[0] * ca - prev[1] * sa, prev[0] * sa + prev[1] * ca];
            out.push(at(pts[i], nrm));
        }
        out.push(at(pts[i], next));
    }
    out
}

pub fn distance(a: Point, b: Point) -> f64 {
    ((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt()
}

/// Area of a simple polygon (shoelace).
pub fn area(poly: &[Point]) -> f64 {
    let mut s = 0.0;
    for i in 0..poly.len() {
        let (a, b) = (poly[i], poly[(i + 1) % poly.len()]);
        s += a[0] * b[1] - b[0] * a[1];
    }
    s.abs() / 2.0
}

/// The homography taking each `from[i]` to `to[i]`, row-major with the last entry 1; `None`
/// when three of the points are collinear.
pub fn perspective(from: [Point; 4], to: [Point; 4]) -> Option<[f64; 9]> {
    // Two equations per correspondence in the eight unknowns h0..h7.
    let mut m = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ([x, y], [u, v]) = (from[i], to[i]);
        m[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        m[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..8 {
        let pivot = (col..8).max_by(|&a, &b| m[a][col].abs().total_cmp(&m[b][col].abs()))?;
        if m[pivot][col].abs() < 1e-12 {
            return None;
        }
        m.swap(col, pivot);
        let pivot_row = m[col];
        for (r, row) in m.iter_mut().enumerate() {
            if r != col {
                let f = row[col] / pivot_row[col];
                for (v, p) in row.iter_mut().zip(pivot_row).skip(col) {
                    *v -= f * p;
                }
            }
        }
    }
    let mut h = [0.0; 9];
    for i in 0..8 {
        h[i] = m[i][8] / m[i][i];
    }
    h[8] = 1.0;
    Some(h)
}

pub fn apply(h: &[f64; 9], x: f64, y: f64) -> Point {
    let w = h[6] * x + h[7] * y + h[8];
    [
        (h[0] * x + h[1] * y + h[2]) / w,
        (h[3] * x + h[4] * y + h[5]) / w,
    ]
}
