// The admin console's tenant switcher: choosing a tenant goes to it.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("tenant-switcher");
  if (form) {
    form.addEventListener("change", () => {
      window.location = form.tenant.value;
    });
  }
});
