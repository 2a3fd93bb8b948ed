"""Connected accounts: an employee's OAuth grant to a platform (Meta's Graph APIs), its
encrypted token, its expiry, and the "reconnect needed" state when it lapses."""
