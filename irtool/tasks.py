"""The restoration task names every part of irtool uses (no imports: safe for the cheapest modules)."""

#: One degradation each; ``irtool.degrade.TASK_DEGRADATIONS`` maps them to degradation kinds.
SINGLE_TASKS = ("denoise", "jpeg", "deblur", "derain", "dehaze", "lowlight", "sr2", "sr3", "sr4")
#: What a model can serve and ``irtool restore --task`` accepts ("all" = all-in-one).
TASKS = (*SINGLE_TASKS, "all")
