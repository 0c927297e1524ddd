//! User-centric timing (`docs/load-modes.md` §4): `U` simulated users share a total rate `Q`;
//! each user sends one turn every `U/Q` seconds and is replaced when done.
//!
//! At t=0 the run starts in **steady state** ("virtual history"): the users are
//! spread over their lifetimes as if the benchmark had been running for a while,
//! so new users keep arriving at a constant pace instead of all starting together.

/// A user present at the start of the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InitialUser {
    /// User id (also its `x_correlation_id`): initial users are `1..=U`, the extra
    /// brand-new user is `U+1`.
    pub user_id: u64,
    /// Start slot: fires at `t0 + order · stagger`.
    pub order: u64,
    /// Turns this user sends.
    pub turns: u32,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The users present at t=0 for `U` users and `T` turns per conversation, ordered by
/// start slot: users whose virtual history says they are already finished are left
/// out (their id is consumed); one extra brand-new user with all `T` turns starts at
/// slot 0.
pub fn initial_users(num_users: u64, turns: u32) -> Vec<InitialUser> {
    let u = num_users.max(1);
    let lifetime = (turns as u64).saturating_sub(1).max(1);
    let step = (2..).find(|s| gcd(*s, u) == 1).unwrap_or(1);
    let coprime = gcd(u, lifetime) == 1;
    let mut users = vec![InitialUser {
        user_id: u + 1,
        order: 0,
        turns,
    }];
    for i in 0..u {
        let virtual_age = (u - i) * lifetime;
        let age = virtual_age / u;
        let turns_left = lifetime as i64 - age as i64;
        if turns_left <= 0 {
            continue;
        }
        let order = if coprime {
            u - (virtual_age % u)
        } else {
            (i * step) % u
        };
        users.push(InitialUser {
            user_id: i + 1,
            order,
            turns: turns_left as u32,
        });
    }
    users.sort_by_key(|x| (x.order, x.user_id));
    users
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docstring_example_u15_t20() {
        // U=15, T=20, Q=1: new user 16 at 0 s with 20 turns, user 5 at 1 s with 6 turns,
        // user 9 at 2 s with 11 turns, user 13 at 3 s with 16 turns, user 2 at 4 s with 2 turns, …
        let users = initial_users(15, 20);
        let head: Vec<(u64, u64, u32)> = users
            .iter()
            .take(5)
            .map(|x| (x.user_id, x.order, x.turns))
            .collect();
        assert_eq!(
            head,
            vec![(16, 0, 20), (5, 1, 6), (9, 2, 11), (13, 3, 16), (2, 4, 2)]
        );
        // User 1 is "already finished" (turns_left = 0): 15 users fire, one per slot 0..14.
        assert_eq!(users.len(), 15);
        assert!(!users.iter().any(|x| x.user_id == 1));
        let mut orders: Vec<u64> = users.iter().map(|x| x.order).collect();
        orders.dedup();
        assert_eq!(
            orders,
            (0..15).collect::<Vec<_>>(),
            "one user per stagger slot"
        );
    }

    #[test]
    fn observed_small_run_u4_t3() {
        // U=4, T=3: lifetime 2, gcd(4,2)=2 → order (i·3) % 4.
        let users = initial_users(4, 3);
        assert_eq!(
            users[0],
            InitialUser {
                user_id: 5,
                order: 0,
                turns: 3
            }
        );
        assert!(users.iter().all(|u| u.turns >= 1 && u.turns <= 3));
    }
}
