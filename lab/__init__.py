"""The teaching lab: the strategy switch, the cluster panel, and one lesson per gotcha of
read/write routing, each run live against the real stack (lab/lessons/). It uses the
forum's models and pages; the forum does not import it."""
