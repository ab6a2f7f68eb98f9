"""What the user sees and touches: canvas layers, overlay, toolbar, contrast control, tools, shortcuts.

These parts know pixels and gestures, not segmentation. They talk to the widget's controller
through the Protocols they declare (:class:`ipyseg.ui.tools.ToolTarget`, ...), so nothing here
imports :mod:`ipyseg.widget`.
"""
