"""Writers: one module per format with `write(book, target, resources) -> Output`, listed in `registry.WRITERS`
(each entry also says which image variants its format wants); they share one context and one set of templates."""
